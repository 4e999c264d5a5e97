package services

import (
	"errors"

	"github.com/sessiond/sessiond/models"
)

// Observer hears what the use cases did, once it is committed: metrics now, cache invalidation
// later. Its methods must be quick and must not fail; they are called synchronously.
type Observer interface {
	// LoginFinished reports how one login attempt ended.
	LoginFinished(outcome LoginOutcome)
	// SessionsEnded reports sessions a committed transaction ended, by reason.
	SessionsEnded(reason models.RevokeReason, sessionIDs []string)
	// PurgeFinished reports one purge run that did work or failed (not one skipped).
	PurgeFinished(res PurgeResult, err error)
}

// LoginOutcome is how a login attempt ended, as metrics count it.
type LoginOutcome string

// The results of a login attempt.
const (
	LoginSuccess            LoginOutcome = "success"
	LoginInvalidCredentials LoginOutcome = "invalid_credentials"
	LoginLimitRejected      LoginOutcome = "limit_rejected"
	LoginRateLimited        LoginOutcome = "rate_limited"
	LoginInvalidRequest     LoginOutcome = "invalid_request"
	LoginError              LoginOutcome = "error" // the store failed: nothing was decided
)

// loginResult classifies a login's error.
func loginOutcome(err error) LoginOutcome {
	var (
		limit      *models.DeviceLimitError
		limited    *models.RateLimitedError
		validation *models.ValidationError
	)
	switch {
	case err == nil:
		return LoginSuccess
	case errors.Is(err, models.ErrInvalidCredentials):
		return LoginInvalidCredentials
	case errors.As(err, &limit):
		return LoginLimitRejected
	case errors.As(err, &limited):
		return LoginRateLimited
	case errors.As(err, &validation):
		return LoginInvalidRequest
	}
	return LoginError
}

// NopObserver observes nothing.
type NopObserver struct{}

func (NopObserver) LoginFinished(LoginOutcome)                  {}
func (NopObserver) SessionsEnded(models.RevokeReason, []string) {}
func (NopObserver) PurgeFinished(PurgeResult, error)            {}

// ended collects the sessions a transaction ends, to be told to the Observer once it commits
// (and never if it rolls back).
type ended struct {
	order []models.RevokeReason
	ids   map[models.RevokeReason][]string
}

func (e *ended) add(reason models.RevokeReason, ids []string) {
	if e.ids == nil {
		e.ids = map[models.RevokeReason][]string{}
	}
	if _, seen := e.ids[reason]; !seen {
		e.order = append(e.order, reason)
	}
	e.ids[reason] = append(e.ids[reason], ids...)
}

// report tells o what was ended; call it after the commit.
func (e *ended) report(o Observer) {
	for _, r := range e.order {
		o.SessionsEnded(r, e.ids[r])
	}
}

func observerOr(o Observer) Observer {
	if o == nil {
		return NopObserver{}
	}
	return o
}
