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
	// UsersChanged reports users whose role, plan, limits, password or state a committed
	// transaction changed.
	UsersChanged(userIDs []string)
	// PlansChanged reports that a committed transaction changed or deleted a plan.
	PlansChanged()
}

// Observers tells each of its observers, in order.
type Observers []Observer

func (os Observers) LoginFinished(o LoginOutcome) {
	for _, x := range os {
		x.LoginFinished(o)
	}
}

func (os Observers) SessionsEnded(r models.RevokeReason, ids []string) {
	for _, x := range os {
		x.SessionsEnded(r, ids)
	}
}

func (os Observers) PurgeFinished(res PurgeResult, err error) {
	for _, x := range os {
		x.PurgeFinished(res, err)
	}
}

func (os Observers) UsersChanged(ids []string) {
	for _, x := range os {
		x.UsersChanged(ids)
	}
}

func (os Observers) PlansChanged() {
	for _, x := range os {
		x.PlansChanged()
	}
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
	LoginOverloaded         LoginOutcome = "overloaded" // refused at once: the hashing queue was full
	LoginError              LoginOutcome = "error"      // the store failed: nothing was decided
)

// loginResult classifies a login's error.
func loginOutcome(err error) LoginOutcome {
	var (
		limit      *models.DeviceLimitError
		limited    *models.RateLimitedError
		validation *models.ValidationError
		idToken    *models.IDTokenError
	)
	switch {
	case err == nil:
		return LoginSuccess
	case errors.Is(err, models.ErrInvalidCredentials), errors.As(err, &idToken),
		errors.Is(err, models.ErrSignInStateInvalid), errors.Is(err, models.ErrEmailNotVerified),
		errors.Is(err, models.ErrIdentityNotLinked), errors.Is(err, models.ErrUnknownProvider),
		errors.Is(err, models.ErrRegistrationClosed):
		return LoginInvalidCredentials // what was presented was refused
	case errors.As(err, &limit):
		return LoginLimitRejected
	case errors.As(err, &limited):
		return LoginRateLimited
	case errors.As(err, &validation):
		return LoginInvalidRequest
	case errors.Is(err, models.ErrOverloaded):
		return LoginOverloaded
	}
	return LoginError
}

// NopObserver observes nothing.
type NopObserver struct{}

func (NopObserver) LoginFinished(LoginOutcome)                  {}
func (NopObserver) SessionsEnded(models.RevokeReason, []string) {}
func (NopObserver) PurgeFinished(PurgeResult, error)            {}
func (NopObserver) UsersChanged([]string)                       {}
func (NopObserver) PlansChanged()                               {}

// ended collects what a transaction changes that others must hear of (sessions ended, users
// or plans changed), to be told to the Observer once it commits, and never if it rolls back.
type ended struct {
	order []models.RevokeReason
	ids   map[models.RevokeReason][]string
	users []string
	plans bool
}

func (e *ended) userChanged(id string) { e.users = append(e.users, id) }
func (e *ended) planChanged()          { e.plans = true }

func (e *ended) empty() bool { return len(e.order) == 0 && len(e.users) == 0 && !e.plans }

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
	if len(e.users) > 0 {
		o.UsersChanged(e.users)
	}
	if e.plans {
		o.PlansChanged()
	}
}

func observerOr(o Observer) Observer {
	if o == nil {
		return NopObserver{}
	}
	return o
}
