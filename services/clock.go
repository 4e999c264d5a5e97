package services

import "time"

// clock reads now (or the wall clock) once, in UTC at the store's microsecond precision, so a
// value written and read back compares equal. A use case reads it once and passes it down;
// every service takes a Now func in its config so tests can move time.
func clock(now func() time.Time) time.Time {
	if now == nil {
		now = time.Now
	}
	return now().UTC().Truncate(time.Microsecond)
}
