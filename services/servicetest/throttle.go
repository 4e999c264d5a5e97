package servicetest

import (
	"time"

	"github.com/sessiond/sessiond/services"
)

// Throttle is the login throttle the tests assert against: 5 free failures, then 1 s
// doubling to 15 min, a lock at 100, and 30 attempts a minute per address with bursts of 10.
// They are written here, not read from config, so that a change of config's defaults does
// not silently change what the tests check; they equal those defaults today.
func Throttle() services.ThrottleConfig {
	return services.ThrottleConfig{
		FreeFailures: 5, BaseDelay: services.ThrottleBaseDelay, MaxDelay: 15 * time.Minute, LockAfter: 100,
		Window: services.ThrottleWindow, IPRate: 30, IPBurst: 10,
	}
}

// PurgeBatch is the purge's batch size where a test does not choose one.
const PurgeBatch = 5000
