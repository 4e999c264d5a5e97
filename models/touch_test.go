package models

import (
	"testing"
	"time"
)

func TestTouchInterval(t *testing.T) {
	for _, tc := range []struct {
		idle, override, want time.Duration
	}{
		{336 * time.Hour, 0, time.Hour},                       // the 14-day default: 1 % is 3h21m, capped
		{50 * time.Hour, 0, 30 * time.Minute},                 // 1 %
		{time.Hour, 0, time.Minute},                           // 36 s raised to the floor
		{time.Minute, 0, 30 * time.Second},                    // never more than half the idle timeout
		{336 * time.Hour, 20 * time.Second, 20 * time.Second}, // the override wins
		{time.Hour, 2 * time.Hour, 30 * time.Minute},          // ... within half the idle timeout
	} {
		if got := TouchInterval(tc.idle, tc.override); got != tc.want {
			t.Errorf("TouchInterval(%s, %s) = %s, want %s", tc.idle, tc.override, got, tc.want)
		}
	}
}
