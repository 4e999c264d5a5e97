package api

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/sessiond/sessiond/models"
)

// Who is calling: the token a request presents, its check, and the principal it names, kept
// in the request's keys for the handlers and the access log.

const principalKey = "sessiond.principal"

// authenticate lets through the requests of the authed group whose token checks out (see
// checkToken) and keeps the principal in the request's keys, where principal(c) finds it.
func (h *handler) authenticate(c *gin.Context) {
	p, ok := h.checkToken(c)
	if !ok {
		return
	}
	SetPrincipal(c, p)
	c.Next()
}

// checkToken resolves the presented token (bearer header first, else the session cookie)
// into a principal (possibly the session cache's own: read only), or answers 401 with the
// reason and reports false.
func (h *handler) checkToken(c *gin.Context) (*models.Principal, bool) {
	token, _, err := h.presentedToken(c)
	if err != nil {
		h.fail(c, err)
		return nil, false
	}
	p, err := h.sessions.Authenticate(c.Request.Context(), token)
	if err != nil {
		h.fail(c, err)
		return nil, false
	}
	return p, true
}

func (h *handler) presentedToken(c *gin.Context) (token string, viaCookie bool, err error) {
	auth, err := authorization(c.Request)
	if err != nil {
		return "", false, err
	}
	if auth != "" {
		scheme, token, ok := strings.Cut(auth, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
			return "", false, models.ErrSessionInvalid
		}
		return strings.TrimSpace(token), false, nil
	}
	if cookie, err := c.Cookie(h.cookies.Session()); err == nil && cookie != "" {
		return cookie, true, nil
	}
	return "", false, models.ErrUnauthenticated
}

// notByCookie reports whether the request does not present the session cookie as its token:
// a bearer token, or none usable (authenticate answers that). The CSRF guard exempts these.
func (h *handler) notByCookie(c *gin.Context) bool {
	_, viaCookie, err := h.presentedToken(c)
	return err != nil || !viaCookie
}

// authorization returns the request's Authorization header, "" when it has none. Two or more
// are refused (400 invalid_request): which one counts would depend on who reads them, and a
// proxy or service in front of us may have checked another one than we would use.
func authorization(r *http.Request) (string, error) {
	switch vs := r.Header["Authorization"]; len(vs) { // the canonical name: no copy to look it up
	case 0:
		return "", nil
	case 1:
		return vs[0], nil
	}
	return "", models.Invalid("Authorization", "must be sent once")
}

// SetPrincipal keeps p as who the request comes from, for the handlers after it and the access
// log. p may be the session cache's own: it is kept pointed to, so that keeping it allocates
// nothing, and never written through.
func SetPrincipal(c *gin.Context, p *models.Principal) { c.Set(principalKey, p) }

// LookupPrincipal returns who the request comes from, as authentication (the API's, or the
// pages' session) found it; false when nothing authenticated it.
func LookupPrincipal(c *gin.Context) (models.Principal, bool) {
	p, ok := c.Get(principalKey)
	if !ok {
		return models.Principal{}, false
	}
	return *p.(*models.Principal), true
}

// Principal returns who the request comes from, for handlers behind authentication only: it
// panics (a 500) where nothing authenticated the request. This is a shallow copy of the
// principal kept: never write through its slices (Identities, Session.SecretHash) or pointers.
func Principal(c *gin.Context) models.Principal {
	return *c.MustGet(principalKey).(*models.Principal)
}
