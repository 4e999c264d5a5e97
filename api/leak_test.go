package api_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/sessiond/sessiond/api/apitest"
	"github.com/sessiond/sessiond/services/servicetest"
)

// TestTokensNeverLeak signs in, uses the token by header and by cookie, fails a login with the
// token as the password, and one with the device key, signs in with the key, signs out, all
// with every log line captured; then searches the logs and every row of every table for the
// raw token and device key, their secrets, and the secrets' bytes in hex: there must be no hit.
func TestTokensNeverLeak(t *testing.T) {
	for _, store := range servicetest.Stores(t) {
		t.Run(store.Name, func(t *testing.T) {
			var logs bytes.Buffer
			s := apitest.NewServer(t, store, apitest.Options{Log: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
			email := s.Register(t)
			login := s.Login(t, email, "Phone")
			token, key := login.JSON["token"].(string), login.JSON["device_key"].(string)
			var needles []string
			for _, credential := range []string{token, key} {
				_, secret, _ := strings.Cut(credential, ".")
				raw, err := base64.RawURLEncoding.DecodeString(secret)
				if err != nil {
					t.Fatal(err)
				}
				needles = append(needles, credential, secret, hex.EncodeToString(raw), string(raw))
			}
			s.Do("GET", "/v1/auth/session", "", "", apitest.Bearer(token)...)
			s.Do("GET", "/v1/sessions", "", "", "Cookie", "sessiond="+token)
			s.JSON("POST", "/v1/auth/login", map[string]any{"email": email, "password": token})
			s.JSON("POST", "/v1/auth/login", map[string]any{"email": email, "password": key, "device": map[string]any{"key": key}})
			s.Login(t, email, "Phone", map[string]any{"device": map[string]any{"name": "Phone", "key": key}})
			s.Do("GET", "/v1/nope?token="+token, "", "")
			s.Do("POST", "/v1/auth/logout", "", "", apitest.Bearer(token)...)
			if logs.Len() == 0 {
				t.Fatal("nothing was logged: the test would prove nothing")
			}
			for _, n := range needles {
				if bytes.Contains(logs.Bytes(), []byte(n)) {
					t.Errorf("the logs hold the token (as %q)", n)
				}
			}
			dump := dumpDatabase(t, store)
			for _, n := range needles {
				if strings.Contains(dump, n) {
					t.Errorf("the database holds the token (as %q)", n)
				}
			}
		})
	}
}

// dumpDatabase renders every row of every table as text, byte columns also in hex.
func dumpDatabase(t *testing.T, store servicetest.Store) string {
	t.Helper()
	q := `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()`
	if store.Dialect == "sqlite" {
		q = `SELECT name FROM sqlite_master WHERE type = 'table'`
	}
	var tables []string
	if err := store.DB.Raw(q).Scan(&tables).Error; err != nil || len(tables) < 5 {
		t.Fatalf("list tables = %v, %v", tables, err)
	}
	var out strings.Builder
	for _, table := range tables {
		rows, err := store.DB.Raw(`SELECT * FROM "` + table + `"`).Rows()
		if err != nil {
			t.Fatalf("read %s: %v", table, err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			for _, v := range vals {
				if b, ok := v.([]byte); ok {
					fmt.Fprintf(&out, "%s %s|", b, hex.EncodeToString(b))
				} else {
					fmt.Fprintf(&out, "%v|", v)
				}
			}
			out.WriteString("\n")
		}
		rows.Close()
	}
	return out.String()
}
