package api_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"testing"

	"github.com/sessiond/sessiond/api/apitest"
	"github.com/sessiond/sessiond/services/servicetest"
)

// TestAccessLogNamesTheUser: the access line of a signed-in request names the user, for the
// session check (which checks the token itself) as for the routes behind authenticate; a
// refused request names nobody.
func TestAccessLogNamesTheUser(t *testing.T) {
	store := servicetest.SQLite(t)
	var logs bytes.Buffer
	s := apitest.NewServer(t, store, apitest.Options{Log: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))})
	token := s.MustLogin(t, s.Register(t), "Phone")
	r := s.Do("GET", "/v1/auth/session", "", "", apitest.Bearer(token)...)
	var who struct{ User struct{ ID string } }
	if err := json.Unmarshal(r.Body.Bytes(), &who); r.Code != http.StatusOK || err != nil || who.User.ID == "" {
		t.Fatalf("GET /v1/auth/session = %d %s", r.Code, r.Body)
	}
	s.Do("GET", "/v1/sessions", "", "", apitest.Bearer(token)...)
	s.Do("GET", "/v1/auth/session", "", "", apitest.Bearer("garbage")...)

	want := map[string]string{ // route and status -> user_id
		"/v1/auth/session 200": who.User.ID,
		"/v1/sessions 200":     who.User.ID,
		"/v1/auth/session 401": "",
	}
	seen := 0
	for sc := bufio.NewScanner(&logs); sc.Scan(); {
		var line struct {
			Msg    string `json:"msg"`
			Route  string `json:"route"`
			Status int    `json:"status"`
			UserID string `json:"user_id"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil || line.Msg != "request" {
			continue
		}
		key := line.Route + " " + strconv.Itoa(line.Status)
		if id, ok := want[key]; ok {
			seen++
			if line.UserID != id {
				t.Errorf("access line of %s: user_id %q, want %q", key, line.UserID, id)
			}
		}
	}
	if seen != len(want) {
		t.Fatalf("found %d of the %d access lines; logs:\n%s", seen, len(want), logs.String())
	}
}
