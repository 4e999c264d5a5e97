package api

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	json "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/sessiond/sessiond/models"
)

const adminKey = "sessiond.admin"

// RequireAdmin returns the middleware that lets through, after authentication, only the
// principals models.Principal.AsAdmin accepts, and keeps them for AdminOf. refuse answers the
// refusal (models.ErrForbidden) the surface's own way, and must abort.
func RequireAdmin(refuse func(*gin.Context, error)) gin.HandlerFunc {
	return func(c *gin.Context) {
		admin, err := Principal(c).AsAdmin()
		if err != nil {
			refuse(c, err)
			return
		}
		c.Set(adminKey, admin)
		c.Next()
	}
}

// AdminOf returns the admin RequireAdmin let through, for the handlers behind it only.
func AdminOf(c *gin.Context) models.Admin { return c.MustGet(adminKey).(models.Admin) }

// optional decodes a field of a partial update: absent, null, or a value.
type optional[T any] struct {
	models.Optional[T]
}

// UnmarshalJSONFrom is called only for a member that is present: null leaves Value nil (clear
// the field), anything else is decoded into it with the body's own strict options.
func (o *optional[T]) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	o.Set = true
	return json.UnmarshalDecode(dec, &o.Value)
}

type planRequest struct {
	Name            *string          `json:"name"`
	MaxSessions     *int             `json:"max_sessions"`
	LimitPolicy     *string          `json:"limit_policy"`
	IdleTimeout     optional[string] `json:"idle_timeout"`
	AbsoluteTimeout optional[string] `json:"absolute_timeout"`
}

// input converts the request, parsing Go durations ("336h").
func (r planRequest) input() (models.PlanInput, error) {
	in := models.PlanInput{Name: r.Name, MaxSessions: r.MaxSessions}
	if r.LimitPolicy != nil {
		p := models.LimitPolicy(*r.LimitPolicy)
		in.LimitPolicy = &p
	}
	v := &models.ValidationError{Fields: map[string]string{}}
	for field, pair := range map[string]struct {
		src optional[string]
		dst *models.Optional[time.Duration]
	}{"idle_timeout": {r.IdleTimeout, &in.IdleTimeout}, "absolute_timeout": {r.AbsoluteTimeout, &in.AbsoluteTimeout}} {
		pair.dst.Set = pair.src.Set
		if pair.src.Value == nil {
			continue
		}
		d, err := time.ParseDuration(*pair.src.Value)
		if err != nil {
			v.Fields[field] = `must be a Go duration such as "336h", or null`
			continue
		}
		pair.dst.Value = &d
	}
	if len(v.Fields) > 0 {
		return in, v
	}
	return in, nil
}

func (h *handler) listPlans(c *gin.Context) {
	plans, err := h.plans.List(c.Request.Context())
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"plans": mapAll(plans, toPlan)})
}

func (h *handler) createPlan(c *gin.Context) {
	in, err := decodePlan(c)
	if err != nil {
		h.fail(c, err)
		return
	}
	p, err := h.plans.Create(c.Request.Context(), AdminOf(c), in)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, toPlan(p))
}

func decodePlan(c *gin.Context) (models.PlanInput, error) {
	var req planRequest
	if err := decode(c, &req); err != nil {
		return models.PlanInput{}, err
	}
	return req.input()
}

func (h *handler) getPlan(c *gin.Context) {
	p, err := h.plans.Get(c.Request.Context(), c.Param("id"))
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, toPlan(p))
}

func (h *handler) updatePlan(c *gin.Context) {
	enforce := c.Query("enforce")
	if enforce != "" && enforce != "now" {
		h.fail(c, models.Invalid("enforce", `must be "now" or absent`))
		return
	}
	in, err := decodePlan(c)
	if err != nil {
		h.fail(c, err)
		return
	}
	p, res, err := h.plans.Update(c.Request.Context(), AdminOf(c), c.Param("id"), in, enforce == "now")
	if err != nil {
		h.fail(c, err)
		return
	}
	out := gin.H{
		"id": p.ID, "name": p.Name, "max_sessions": p.MaxSessions, "limit_policy": p.LimitPolicy,
		"idle_timeout": seconds(p.IdleTimeoutSeconds), "absolute_timeout": seconds(p.AbsoluteTimeoutSeconds),
	}
	if enforce == "now" {
		// What was done so far; enforcing: the rest is recorded and the purge job finishes it.
		out["enforced"] = gin.H{"users": res.Users, "sessions_evicted": res.Sessions}
		out["enforcing"] = res.Enforcing
	}
	c.JSON(http.StatusOK, out)
}

func (h *handler) deletePlan(c *gin.Context) {
	if err := h.plans.Delete(c.Request.Context(), AdminOf(c), c.Param("id")); err != nil {
		h.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

type adminUserJSON struct {
	userJSON
	MaxSessionsOverride      *int       `json:"max_sessions_override"`
	MaxSessionsOverrideUntil *time.Time `json:"max_sessions_override_until"`
	LimitPolicyOverride      *string    `json:"limit_policy_override"`
	Disabled                 bool       `json:"disabled"`
	DisabledAt               *time.Time `json:"disabled_at"`
}

func toAdminUser(u models.User) adminUserJSON {
	out := adminUserJSON{
		userJSON: toUser(u), MaxSessionsOverride: u.MaxSessionsOverride,
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

type clientRequest struct {
	Name string `json:"name"`
}

type clientJSON struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Secret    string    `json:"secret,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

func (h *handler) createClient(c *gin.Context) {
	var req clientRequest
	if err := decode(c, &req); err != nil {
		h.fail(c, err)
		return
	}
	sc, secret, err := h.admin.CreateClient(c.Request.Context(), AdminOf(c), req.Name)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, clientJSON{ID: sc.ID, Name: sc.Name, Secret: secret, CreatedAt: sc.CreatedAt.UTC()})
}

func (h *handler) listClients(c *gin.Context) {
	cs, err := h.admin.Clients(c.Request.Context())
	if err != nil {
		h.fail(c, err)
		return
	}
	out := make([]clientJSON, len(cs))
	for i, sc := range cs {
		out[i] = clientJSON{ID: sc.ID, Name: sc.Name, CreatedAt: sc.CreatedAt.UTC()}
	}
	c.JSON(http.StatusOK, gin.H{"service_clients": out})
}

func (h *handler) deleteClient(c *gin.Context) {
	if err := h.admin.DeleteClient(c.Request.Context(), AdminOf(c), c.Param("id")); err != nil {
		h.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}
