package services

import "github.com/google/uuid"

// newID returns a time-ordered UUIDv7 string: every row sessiond creates is named by one.
func newID() string { return uuid.Must(uuid.NewV7()).String() }

// validID reports whether s is a UUID in the one spelling we issue (lower-case, hyphenated):
// anything else is nobody's id, and never reaches Postgres, which would refuse some spellings.
func validID(s string) bool {
	u, err := uuid.Parse(s)
	return err == nil && u.String() == s
}
