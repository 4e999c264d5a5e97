package api

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/sessiond/sessiond/models"
)

// Users, as an admin manages them (API.md "Admin"): find, read (with linked identities),
// change, unlock, and see or sign out their sessions and read their events.

type adminUserJSON struct {
	userJSON
	MaxSessionsOverride      *int       `json:"max_sessions_override"`
	MaxSessionsOverrideUntil *time.Time `json:"max_sessions_override_until"`
	LimitPolicyOverride      *string    `json:"limit_policy_override"`
	MaxStreamsOverride       *int       `json:"max_streams_override"`
	Disabled                 bool       `json:"disabled"`
	DisabledAt               *time.Time `json:"disabled_at"`
}

func toAdminUser(u models.User) adminUserJSON {
	out := adminUserJSON{
		userJSON: toUser(u), MaxSessionsOverride: u.MaxSessionsOverride, MaxStreamsOverride: u.MaxStreamsOverride,
		Disabled: u.Disabled(), DisabledAt: utc(u.DisabledAt), MaxSessionsOverrideUntil: utc(u.MaxSessionsOverrideUntil),
	}
	if u.LimitPolicyOverride != nil {
		p := string(*u.LimitPolicyOverride)
		out.LimitPolicyOverride = &p
	}
	return out
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func (h *handler) listUsers(c *gin.Context) {
	limit, err := pageLimit(c)
	if err != nil {
		h.fail(c, err)
		return
	}
	f := models.UserFilter{EmailPrefix: c.Query("email"), PlanID: c.Query("plan_id")}
	users, next, err := h.admin.List(c.Request.Context(), f, limit, c.Query("before"))
	if err != nil {
		h.fail(c, err)
		return
	}
	writePage(c, "users", mapAll(users, toAdminUser), next)
}

func (h *handler) getUser(c *gin.Context) {
	u, err := h.admin.Get(c.Request.Context(), c.Param("id"))
	if err != nil {
		h.fail(c, err)
		return
	}
	out := adminUserDetailJSON{adminUserJSON: toAdminUser(u), Identities: []identityJSON{}}
	if h.oidc != nil {
		ids, err := h.oidc.Identities(c.Request.Context(), u.ID)
		if err != nil {
			h.fail(c, err)
			return
		}
		out.Identities = mapAll(ids, toIdentity)
	}
	c.JSON(http.StatusOK, out)
}

// adminUserDetailJSON is one user as GET /v1/admin/users/{id} shows it: with the identities
// at external providers linked to the account.
type adminUserDetailJSON struct {
	adminUserJSON
	Identities []identityJSON `json:"identities"`
}

type identityJSON struct {
	Provider   string    `json:"provider"`
	Issuer     string    `json:"issuer"`
	Subject    string    `json:"subject"`
	Email      string    `json:"email"`
	LinkedAt   time.Time `json:"linked_at"`
	LastUsedAt time.Time `json:"last_used_at"`
}

func toIdentity(i models.Identity) identityJSON {
	return identityJSON{
		Provider: i.Provider, Issuer: i.Issuer, Subject: i.Subject, Email: i.Email,
		LinkedAt: i.CreatedAt.UTC(), LastUsedAt: i.LastUsedAt.UTC(),
	}
}

type userPatchRequest struct {
	PlanID                   *string             `json:"plan_id"`
	MaxSessionsOverride      optional[int]       `json:"max_sessions_override"`
	MaxSessionsOverrideUntil optional[time.Time] `json:"max_sessions_override_until"`
	LimitPolicyOverride      optional[string]    `json:"limit_policy_override"`
	MaxStreamsOverride       optional[int]       `json:"max_streams_override"`
	Role                     *string             `json:"role"`
	Disabled                 *bool               `json:"disabled"`
}

func (h *handler) updateUser(c *gin.Context) {
	var req userPatchRequest
	if err := decode(c, &req); err != nil {
		h.fail(c, err)
		return
	}
	p := models.UserPatch{
		PlanID:                   req.PlanID,
		MaxSessionsOverride:      req.MaxSessionsOverride.Optional,
		MaxSessionsOverrideUntil: req.MaxSessionsOverrideUntil.Optional,
		MaxStreamsOverride:       req.MaxStreamsOverride.Optional,
		LimitPolicyOverride:      models.Optional[models.LimitPolicy]{Set: req.LimitPolicyOverride.Set},
		Disabled:                 req.Disabled,
	}
	if v := req.LimitPolicyOverride.Value; v != nil {
		lp := models.LimitPolicy(*v)
		p.LimitPolicyOverride.Value = &lp
	}
	if req.Role != nil {
		r := models.Role(*req.Role)
		p.Role = &r
	}
	u, err := h.admin.Update(c.Request.Context(), AdminOf(c), c.Param("id"), p)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, toAdminUser(u))
}

func (h *handler) userSessions(c *gin.Context) {
	ss, err := h.admin.Sessions(c.Request.Context(), c.Param("id"))
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"sessions": toSessions(ss, "")})
}

func (h *handler) revokeUserSessions(c *gin.Context) {
	n, err := h.admin.RevokeSessions(c.Request.Context(), AdminOf(c), c.Param("id"))
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"revoked": n})
}

func (h *handler) unlockUser(c *gin.Context) {
	if err := h.admin.Unlock(c.Request.Context(), AdminOf(c), c.Param("id")); err != nil {
		h.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (h *handler) adminRevokeSession(c *gin.Context) {
	if err := h.admin.RevokeSession(c.Request.Context(), AdminOf(c), c.Param("id")); err != nil {
		h.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (h *handler) userEvents(c *gin.Context) {
	if _, err := h.admin.Get(c.Request.Context(), c.Param("id")); err != nil {
		h.fail(c, err)
		return
	}
	h.history(c, c.Param("id"))
}
