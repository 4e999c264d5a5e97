package api

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/sessiond/sessiond/models"
)

// TestHotJSONIsEncodingJSON: the answers hotJSON writes are byte for byte what encoding/json
// writes, for values with everything that could differ: HTML and control characters,
// non-ASCII, invalid UTF-8, nil and set pointers, omitted fields, times with and without
// fractions, empty and full slices. One pooled buffer encodes them all in turn, as on a
// server.
func TestHotJSONIsEncodingJSON(t *testing.T) {
	at := time.Date(2026, 11, 30, 9, 1, 2, 345600000, time.UTC)
	revokedAt, reason, devID := at.Add(time.Second), "evicted", "tv-1"
	s := models.Session{
		ID: "019acafe-0000-7000-8000-000000000001", UserID: "u", DeviceID: devID,
		DeviceName: "Kids' <TV> & \"Den\" \u2028 é 😀 \x00\x1f" + string([]byte{0xff, 0xfe}), DeviceType: "tv",
		IP: "2001:db8::1", UserAgent: "Mozilla/5.0 </script>", CreatedAt: at, LastSeenAt: at.Add(time.Minute),
		ExpiresAt: at.Truncate(time.Second), RevokedAt: &revokedAt,
	}
	s.RevokeReason = (*models.RevokeReason)(&reason)
	idle := int64(3600)
	values := map[string]any{
		"whoami": whoamiJSON{
			Session: toSession(s, s.ID),
			User:    toUser(models.User{ID: "u", Email: "a+b@example.com", DisplayName: "Ann <b>", Role: models.RoleAdmin, PlanID: "p", CreatedAt: at}),
			Plan:    toPlan(models.Plan{ID: "p", Name: "premium", MaxSessions: 4, LimitPolicy: "reject", IdleTimeoutSeconds: &idle}),
			Identities: []models.LinkedIdentity{
				{Provider: "google", Issuer: "https://accounts.google.com", Subject: "1<2", Email: "ann@example.com"},
			},
		},
		"whoami, nothing optional": whoamiJSON{Session: toSession(models.Session{}, ""), Identities: []models.LinkedIdentity{}},
		"introspection, active": introspectResponse{
			Active: true, Sub: "u", Sid: s.ID, Exp: 1_800_000_000, Iat: 1_700_000_000, Plan: "premium", Role: "user",
			Device: &deviceJSON{ID: &devID, Name: s.DeviceName, Type: "tv"}, IdleExp: 1_750_000_000,
		},
		"introspection, inactive": introspectResponse{},
	}
	hb := hotBuffers.Get().(*hotBuffer)
	defer hb.release()
	for name, v := range values {
		want, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		got, err := hb.encode(v)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s:\n go-json       %s (%v)\n encoding/json %s", name, got, err, want)
		}
	}
}
