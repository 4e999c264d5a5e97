package api_test

import (
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/sessiond/sessiond/api/apitest"
	"github.com/sessiond/sessiond/models"
	"github.com/sessiond/sessiond/services/servicetest"
)

// TestStreams walks API.md "Streams" on the standard plan (2 streams, reject): start, the
// limit's 409 and its chooser, replace_stream_id, the taken-over device's 410, list, stop,
// a session's end, the admin's streams, and hostile input (each a 4xx, never a 5xx).
func TestStreams(t *testing.T) {
	for _, store := range servicetest.Stores(t) {
		t.Run(store.Name, func(t *testing.T) {
			s := apitest.NewServer(t, store, apitest.Options{})
			alice, bob := s.Register(t), s.Register(t)
			s.SetLimit(t, alice, models.Limit{Max: 10, Policy: models.PolicyEvictOldest})
			tv1, tv2, tv3 := s.MustLogin(t, alice, "TV1"), s.MustLogin(t, alice, "TV2"), s.MustLogin(t, alice, "TV3")
			bobTV := s.MustLogin(t, bob, "Bob's TV")

			start := func(token string, body any) apitest.Response {
				return s.JSON("POST", "/v1/streams", body, apitest.Bearer(token)...)
			}
			r1 := start(tv1, map[string]any{"content_id": "film-1"})
			stream1, _ := r1.JSON["stream"].(map[string]any)
			if r1.Code != 201 || r1.JSON["heartbeat_interval"] != float64(60) || stream1["current"] != true || stream1["class"] != "vod" || stream1["content_id"] != "film-1" {
				t.Fatalf("POST /v1/streams = %d %s, want 201 with a current vod stream, heartbeat_interval 60", r1.Code, r1.Body)
			}
			id1 := stream1["id"].(string)
			if r := start(tv2, map[string]any{"class": "live"}); r.Code != 201 {
				t.Fatalf("second stream = %d %s, want 201", r.Code, r.Body)
			}
			r := start(tv3, nil)
			streams, _ := r.ErrorDetails()["streams"].([]any)
			if r.Code != 409 || r.ErrorCode() != "stream_limit_reached" || r.ErrorDetails()["limit"] != float64(2) || len(streams) != 2 {
				t.Fatalf("third stream = %d %s, want 409 stream_limit_reached, limit 2, 2 streams", r.Code, r.Body)
			}
			r = start(tv3, map[string]any{"replace_stream_id": id1})
			if ended, _ := r.JSON["ended"].([]any); r.Code != 201 || len(ended) != 1 {
				t.Fatalf("third stream replacing the first = %d %s, want 201 with one ended", r.Code, r.Body)
			}
			id3 := r.JSON["stream"].(map[string]any)["id"].(string)
			r = s.Do("POST", "/v1/streams/"+id1+"/heartbeat", "", "", apitest.Bearer(tv1)...)
			if r.Code != 410 || r.ErrorCode() != "stream_ended" || r.ErrorDetails()["reason"] != "taken_over" || r.ErrorDetails()["by_device_name"] != "TV3" {
				t.Errorf("taken-over heartbeat = %d %s, want 410 stream_ended taken_over by TV3", r.Code, r.Body)
			}
			if r := s.Do("POST", "/v1/streams/"+id3+"/heartbeat", "", "", apitest.Bearer(tv3)...); r.Code != 200 {
				t.Errorf("heartbeat = %d %s, want 200", r.Code, r.Body)
			}
			r = s.Do("GET", "/v1/streams", "", "", apitest.Bearer(tv1)...)
			if list, _ := r.JSON["streams"].([]any); r.Code != 200 || len(list) != 2 || r.JSON["limit"] != float64(2) || r.JSON["policy"] != "reject" {
				t.Errorf("GET /v1/streams = %d %s, want 2 streams, limit 2, reject", r.Code, r.Body)
			}

			// Hostile input.
			for _, tc := range []struct {
				name, method, path, body, token string
				status                          int
			}{
				{"unknown class", "POST", "/v1/streams", `{"class":"hologram"}`, tv1, 400},
				{"huge content_id", "POST", "/v1/streams", `{"content_id":"` + strings.Repeat("x", 20_000) + `"}`, tv1, 400},
				{"unknown field", "POST", "/v1/streams", `{"contentId":"x"}`, tv1, 400},
				{"content_id not a string", "POST", "/v1/streams", `{"content_id":7}`, tv1, 400},
				{"unknown stream", "POST", "/v1/streams/" + uuid.NewString() + "/heartbeat", "", tv3, 404},
				{"malformed stream id", "POST", "/v1/streams/%27%3B/heartbeat", "", tv3, 404},
				{"someone else's stream", "POST", "/v1/streams/" + id3 + "/heartbeat", "", bobTV, 404},
				{"stop someone else's", "DELETE", "/v1/streams/" + id3, "", bobTV, 404},
				{"no token", "POST", "/v1/streams/" + id3 + "/heartbeat", "", "", 401},
				{"garbage token", "POST", "/v1/streams/" + id3 + "/heartbeat", "", "x.y", 401},
				{"non-admin admin streams", "DELETE", "/v1/admin/streams/" + id3, "", tv1, 403},
			} {
				var hdr []string
				if tc.token != "" {
					hdr = apitest.Bearer(tc.token)
				}
				ct := ""
				if tc.body != "" {
					ct = "application/json"
				}
				if r := s.Do(tc.method, tc.path, ct, tc.body, hdr...); r.Code != tc.status {
					t.Errorf("%s: %s %s = %d %s, want %d", tc.name, tc.method, tc.path, r.Code, r.Body, tc.status)
				}
			}

			// A session's end ends its stream: its heartbeat says session_ended.
			r = s.Do("GET", "/v1/streams", "", "", apitest.Bearer(tv2)...)
			var id2 string
			for _, x := range r.JSON["streams"].([]any) {
				if st := x.(map[string]any); st["current"] == true {
					id2 = st["id"].(string)
				}
			}
			if r := s.Do("POST", "/v1/auth/logout", "", "", apitest.Bearer(tv2)...); r.Code != 204 {
				t.Fatalf("logout = %d %s", r.Code, r.Body)
			}
			r = s.Do("POST", "/v1/streams/"+id2+"/heartbeat", "", "", apitest.Bearer(tv2)...)
			if r.Code != 410 || r.ErrorDetails()["reason"] != "session_ended" {
				t.Errorf("heartbeat after logout = %d %s, want 410 stream_ended session_ended", r.Code, r.Body)
			}

			// Admin: a user's streams, and ending one.
			s.MakeAdmin(t, bob)
			aliceID := s.Do("GET", "/v1/auth/session", "", "", apitest.Bearer(tv3)...).JSON["user"].(map[string]any)["id"].(string)
			r = s.Do("GET", "/v1/admin/users/"+aliceID+"/streams", "", "", apitest.Bearer(bobTV)...)
			if list, _ := r.JSON["streams"].([]any); r.Code != 200 || len(list) != 3 {
				t.Errorf("admin user streams = %d %s, want 3 (playing and ended)", r.Code, r.Body)
			}
			if r := s.Do("DELETE", "/v1/admin/streams/"+id3, "", "", apitest.Bearer(bobTV)...); r.Code != 204 {
				t.Errorf("admin end stream = %d %s, want 204", r.Code, r.Body)
			}
			r = s.Do("POST", "/v1/streams/"+id3+"/heartbeat", "", "", apitest.Bearer(tv3)...)
			if r.Code != 410 || r.ErrorDetails()["reason"] != "revoked_by_admin" {
				t.Errorf("heartbeat after admin end = %d %s, want 410 revoked_by_admin", r.Code, r.Body)
			}
			r = s.Do("GET", "/v1/admin/plans", "", "", apitest.Bearer(bobTV)...)
			if plans, _ := r.JSON["plans"].([]any); r.Code != 200 || len(plans) == 0 || plans[0].(map[string]any)["max_streams"] == nil {
				t.Errorf("GET /v1/admin/plans = %d %s, want plans with max_streams", r.Code, r.Body)
			}
		})
	}
}
