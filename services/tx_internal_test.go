package services

import (
	"testing"

	"github.com/sessiond/sessiond/models"
)

// TestIdentitiesInLinkOrder: the principal query leaves the identities unordered; they come
// out in the order they were linked, whatever fraction of a second each time shows (Postgres
// and SQLite both drop trailing zeros).
func TestIdentitiesInLinkOrder(t *testing.T) {
	var p models.Principal
	err := scanIdentities([]byte(`[
		{"provider":"c","issuer":"i","subject":"3","email":"","created_at":"2026-11-30T08:46:32.56+00:00"},
		{"provider":"a","issuer":"i","subject":"1","email":"","created_at":"2026-11-30T08:46:32+00:00"},
		{"provider":"b","issuer":"i","subject":"2","email":"","created_at":"2026-11-30T08:46:32.5+00:00"},
		{"provider":"d","issuer":"i","subject":"4","email":"","created_at":"2026-11-30T08:46:33+00:00"}]`), &p)
	if err != nil {
		t.Fatal(err)
	}
	var got string
	for _, id := range p.Identities {
		got += id.Provider
	}
	if got != "abcd" {
		t.Fatalf("identities in order %q, want abcd (the order they were linked)", got)
	}
}
