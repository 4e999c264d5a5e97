package config

import (
	"fmt"
	"time"
)

// Streams sets the stream leases (issue 22): how often players renew them and how long one
// lives without a renewal. A player that loses the network for less than a lease keeps its
// stream; one that crashes frees its slot within one lease.
type Streams struct {
	HeartbeatInterval time.Duration `env:"STREAM_HEARTBEAT_INTERVAL" envDefault:"60s"`
	// LeaseTTL: 0 (unset) is 3 × HeartbeatInterval.
	LeaseTTL time.Duration `env:"STREAM_LEASE_TTL"`
}

// TTL is the lease's life without a heartbeat: LeaseTTL, or 3 heartbeat intervals.
func (s Streams) TTL() time.Duration {
	if s.LeaseTTL == 0 {
		return 3 * s.HeartbeatInterval
	}
	return s.LeaseTTL
}

func (s Streams) validate() Errors {
	var errs Errors
	if s.HeartbeatInterval < time.Second || s.HeartbeatInterval > time.Hour {
		errs = append(errs, &Error{Var: Prefix + "STREAM_HEARTBEAT_INTERVAL", Err: fmt.Errorf("must be between 1s and 1h, got %s", s.HeartbeatInterval)})
	}
	if s.LeaseTTL != 0 && s.LeaseTTL <= s.HeartbeatInterval {
		errs = append(errs, &Error{Var: Prefix + "STREAM_LEASE_TTL", Err: fmt.Errorf("must be longer than the heartbeat interval (%s), got %s", s.HeartbeatInterval, s.LeaseTTL)})
	}
	return errs
}
