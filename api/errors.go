package api

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/sessiond/sessiond/models"
)

// Errors that only the HTTP layer produces.
var (
	errTooLarge         = errors.New("request body too large")
	errUnsupportedMedia = errors.New("unsupported media type")
	errRouteNotFound    = errors.New("no such route")
	errMethodNotAllowed = errors.New("method not allowed")
	errCSRF             = errors.New("cross-site request refused")
	errPanic            = errors.New("handler panicked")
	errDraining         = fmt.Errorf("shutting down: %w", models.ErrUnavailable)
)

// Problem is what an error means over HTTP, per API.md: its status, its stable code, a message
// for people, optional details, and, for a 429 or a 503, the seconds to send in Retry-After.
// The API writes it as {"error": {code, message, details}}; the pages render it as a page.
type Problem struct {
	Status     int            `json:"-"`
	Code       string         `json:"code"`
	Message    string         `json:"message"`
	Details    map[string]any `json:"details,omitempty"`
	RetryAfter string         `json:"-"` // "" when there is nothing to wait for
}

// retryAfter is what a 503 tells clients to wait, in seconds.
const retryAfter = "1"

// fail writes err as the JSON error response. Unknown errors are logged once, with the request,
// and answered 500 internal without their text.
func (h *handler) fail(c *gin.Context, err error) {
	p := Classify(err)
	if p.Status == http.StatusInternalServerError {
		h.log.ErrorContext(c.Request.Context(), "request failed", "method", c.Request.Method, "route", c.FullPath(), "err", err)
	}
	if p.RetryAfter != "" {
		c.Header("Retry-After", p.RetryAfter)
	}
	c.AbortWithStatusJSON(p.Status, gin.H{"error": p})
}

// Classify maps an error to its Problem, per API.md. It is the only place that knows the
// mapping: the API and the pages render what it says.
func Classify(err error) Problem {
	var (
		validation *models.ValidationError
		weak       *models.WeakPasswordError
		limit      *models.DeviceLimitError
		evicted    *models.SessionEvictedError
		revoked    *models.SessionRevokedError
		limited    *models.RateLimitedError
		idToken    *models.IDTokenError
		streamLim  *models.StreamLimitError
		streamEnd  *models.StreamEndedError
	)
	switch {
	case errors.As(err, &streamLim):
		return streamProblem(streamLim, nil)
	case errors.As(err, &streamEnd):
		return streamProblem(nil, streamEnd)
	case errors.As(err, &idToken):
		return Problem{Status: http.StatusUnauthorized, Code: "invalid_id_token", Message: "The identity token or code was refused: " + idToken.Reason + "."}
	case errors.As(err, &validation):
		return Problem{Status: http.StatusBadRequest, Code: "invalid_request", Message: "The request is invalid.",
			Details: map[string]any{"fields": validation.Fields}}
	case errors.As(err, &weak):
		return Problem{Status: http.StatusBadRequest, Code: "weak_password", Message: weak.Reason + "."}
	case errors.As(err, &limit):
		return Problem{Status: http.StatusConflict, Code: "device_limit_reached", Message: limitMessage(limit),
			Details: map[string]any{"limit": limit.Limit, "must_sign_out": limit.MustSignOut, "sessions": toSessions(limit.Sessions, "")}}
	case errors.As(err, &evicted):
		return Problem{Status: http.StatusUnauthorized, Code: "session_evicted",
			Message: "This device was signed out because another device signed in and the plan's device limit was reached.",
			Details: evictedDetails(evicted)}
	case errors.As(err, &limited):
		wait := int(math.Ceil(limited.RetryAfter.Seconds()))
		return Problem{Status: http.StatusTooManyRequests, Code: "rate_limited", Message: "Too many attempts: wait before trying again.",
			Details: map[string]any{"retry_after_seconds": wait}, RetryAfter: strconv.Itoa(wait)}
	case errors.As(err, &revoked):
		return Problem{Status: http.StatusUnauthorized, Code: "session_revoked", Message: "This session was signed out.",
			Details: map[string]any{"reason": revoked.Reason, "revoked_at": revoked.RevokedAt.UTC()}}
	case errors.Is(err, models.ErrSessionTooNew): // before ErrInvalidCredentials, which it may carry
		if errors.Is(err, models.ErrInvalidCredentials) {
			return Problem{Status: http.StatusForbidden, Code: "session_too_new",
				Message: "Wrong password: a session this new signs out older ones only with the right password.",
				Details: map[string]any{"password": "wrong"}}
		}
		return Problem{Status: http.StatusForbidden, Code: "session_too_new",
			Message: "This session is too new to sign out an older one: send the account's password as \"password\".",
			Details: map[string]any{"password": "required"}}
	}
	for _, m := range sentinels {
		if errors.Is(err, m.err) {
			return m.Problem
		}
	}
	return Problem{Status: http.StatusInternalServerError, Code: "internal", Message: "Internal error."}
}

var sentinels = []struct {
	err error
	Problem
}{
	{models.ErrOverloaded, Problem{Status: http.StatusServiceUnavailable, Code: "unavailable", Message: "Too many sign-ins are waiting; try again shortly.", RetryAfter: retryAfter}},
	{models.ErrUnavailable, Problem{Status: http.StatusServiceUnavailable, Code: "unavailable", Message: "The session store is unavailable; try again shortly.", RetryAfter: retryAfter}},
	{errTooLarge, Problem{Status: http.StatusRequestEntityTooLarge, Code: "request_too_large", Message: "The request body is too large."}},
	{errUnsupportedMedia, Problem{Status: http.StatusUnsupportedMediaType, Code: "unsupported_media_type", Message: "Send the body as application/json."}},
	{models.ErrInvalidClient, Problem{Status: http.StatusUnauthorized, Code: "invalid_client", Message: "Unknown service client or wrong secret."}},
	{models.ErrInvalidCredentials, Problem{Status: http.StatusUnauthorized, Code: "invalid_credentials", Message: "Wrong email or password."}},
	{models.ErrUnauthenticated, Problem{Status: http.StatusUnauthorized, Code: "unauthenticated", Message: "Sign in first: no session token was presented."}},
	{models.ErrSessionInvalid, Problem{Status: http.StatusUnauthorized, Code: "session_invalid", Message: "The session token is not valid."}},
	{models.ErrPendingLoginInvalid, Problem{Status: http.StatusUnauthorized, Code: "session_invalid", Message: "That sign-in is no longer waiting; sign in again."}},
	{models.ErrUnknownProvider, Problem{Status: http.StatusNotFound, Code: "not_found", Message: "No such identity provider."}},
	{models.ErrSignInStateInvalid, Problem{Status: http.StatusBadRequest, Code: "invalid_state", Message: "The sign-in state is unknown, expired, used, or from another browser; start again."}},
	{models.ErrEmailNotVerified, Problem{Status: http.StatusForbidden, Code: "email_not_verified", Message: "The identity provider did not assert a verified email."}},
	{models.ErrIdentityNotLinked, Problem{Status: http.StatusConflict, Code: "identity_not_linked", Message: "An account with this email exists and is not linked to this identity; sign in with its password."}},
	{models.ErrProviderUnavailable, Problem{Status: http.StatusServiceUnavailable, Code: "provider_unavailable", Message: "The identity provider could not be reached; try again shortly.", RetryAfter: retryAfter}},
	{models.ErrSessionExpired, Problem{Status: http.StatusUnauthorized, Code: "session_expired", Message: "The session has expired; sign in again."}},
	{models.ErrRegistrationClosed, Problem{Status: http.StatusForbidden, Code: "registration_closed", Message: "Registration is closed."}},
	{models.ErrForbidden, Problem{Status: http.StatusForbidden, Code: "forbidden", Message: "You are not allowed to do that."}},
	{errCSRF, Problem{Status: http.StatusForbidden, Code: "csrf_failed", Message: "Cross-site request refused."}},
	{models.ErrUseLogout, Problem{Status: http.StatusBadRequest, Code: "use_logout", Message: "This is the session you are using: sign out with POST /v1/auth/logout."}},
	{models.ErrNotFound, Problem{Status: http.StatusNotFound, Code: "not_found", Message: "Not found."}},
	{errRouteNotFound, Problem{Status: http.StatusNotFound, Code: "not_found", Message: "No such route."}},
	{errMethodNotAllowed, Problem{Status: http.StatusMethodNotAllowed, Code: "method_not_allowed", Message: "Method not allowed on this route."}},
	{models.ErrPlanInUse, Problem{Status: http.StatusConflict, Code: "plan_in_use", Message: "Users are on this plan: move them first."}},
	{models.ErrLastAdmin, Problem{Status: http.StatusConflict, Code: "last_admin", Message: "This is the last enabled admin: make another account admin first."}},
	{models.ErrConflict, Problem{Status: http.StatusConflict, Code: "conflict", Message: "That already exists."}},
}

// limitMessage says what a refusal at the device limit asks for: one device at the limit,
// more when the account is over it (a lowered plan).
func limitMessage(e *models.DeviceLimitError) string {
	if e.MustSignOut <= 1 {
		return "Your plan's device limit is reached: sign one device out to continue."
	}
	devices := "devices"
	if e.Limit == 1 {
		devices = "device"
	}
	return fmt.Sprintf("Your plan allows %d %s and %d are signed in: sign %d of them out to continue.",
		e.Limit, devices, len(e.Sessions), e.MustSignOut)
}

func evictedDetails(e *models.SessionEvictedError) map[string]any {
	d := map[string]any{"evicted_at": e.EvictedAt.UTC(), "by_device_name": e.ByDeviceName}
	if e.Limit > 0 {
		d["limit"] = e.Limit
	}
	return d
}

// logFailure is used where no handler is at hand (panics).
func logFailure(log *slog.Logger, c *gin.Context, what any) {
	log.ErrorContext(c.Request.Context(), "request panicked", "method", c.Request.Method, "route", c.FullPath(), "panic", what)
}
