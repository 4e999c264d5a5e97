package web

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/sessiond/sessiond/api"
	"github.com/sessiond/sessiond/models"
)

// The admin pages: every plan, editable; a user lookup; one user with their devices, their
// role and whether the account is enabled.

// adminData is the admin page: every plan, editable, and a user lookup.
type adminData struct {
	Plans          []models.Plan
	Policies       []option
	StreamPolicies []option
	Query          string
	Users          []models.User
	Days           int         // the insights' window
	DayLinks       []int       // the windows offered
	Charts         []chartView // the insights, drawn
	Clients        []models.ServiceClient
	Created        *createdClient // a service client just created: its secret, shown this once
	NewPlan        newPlanForm
}

// createdClient is a new service client with its secret, on the answer to its creation only.
type createdClient struct {
	ID, Name, Secret string
}

// newPlanForm is the create-a-plan form as posted back after a refusal.
type newPlanForm struct {
	Name, MaxSessions, LimitPolicy, IdleTimeout, AbsoluteTimeout string
	MaxStreams, StreamPolicy, StreamClassLimits                  string
}

func (h *Handler) adminPage(c *gin.Context) {
	h.renderAdmin(c, http.StatusOK, adminDone(c), adminData{})
}

// renderAdmin shows the admin page over d (its form state, a created client), with the plans,
// the insights, the service clients and the user lookup read anew.
func (h *Handler) renderAdmin(c *gin.Context, status int, n *notice, d adminData) {
	ctx := c.Request.Context()
	plans, err := h.plans.List(ctx)
	if err != nil {
		h.fail(c, err)
		return
	}
	d.Plans, d.Policies, d.StreamPolicies, d.Query, d.DayLinks = plans, policies, streamPolicies, strings.TrimSpace(c.Query("email")), []int{1, 7, 30, 90}
	if d.Query != "" {
		if d.Users, _, err = h.admin.List(ctx, models.UserFilter{EmailPrefix: d.Query}, 20, ""); err != nil {
			h.fail(c, err)
			return
		}
	}
	if d.Days, err = api.StatsDays(c); err != nil {
		h.fail(c, err)
		return
	}
	if h.stats != nil {
		stats, err := h.stats.Get(ctx, d.Days)
		if err != nil {
			h.fail(c, err)
			return
		}
		d.Days = stats.Days
		if d.Charts, err = charts(stats); err != nil {
			h.fail(c, err)
			return
		}
	}
	if h.clients != nil {
		if d.Clients, err = h.clients.List(ctx); err != nil {
			h.fail(c, err)
			return
		}
	}
	h.render(c, status, "admin", pageData{Nav: "admin", Wide: true, Notice: n, Data: d})
}

// planForm reads a plan row of the admin page. An empty timeout is the server default.
func planForm(c *gin.Context) (models.PlanInput, error) {
	var in models.PlanInput
	v := &models.ValidationError{Fields: map[string]string{}}
	if n, err := strconv.Atoi(strings.TrimSpace(c.PostForm("max_sessions"))); err == nil {
		in.MaxSessions = &n
	} else {
		v.Fields["max_sessions"] = "must be a whole number"
	}
	policy := models.LimitPolicy(c.PostForm("limit_policy"))
	in.LimitPolicy = &policy
	for field, dst := range map[string]*models.Optional[time.Duration]{"idle_timeout": &in.IdleTimeout, "absolute_timeout": &in.AbsoluteTimeout} {
		dst.Set = true
		s := strings.TrimSpace(c.PostForm(field))
		if s == "" {
			continue
		}
		d, err := time.ParseDuration(s)
		if err != nil {
			v.Fields[field] = `must be a duration such as "336h" or "90m", or empty`
			continue
		}
		dst.Value = &d
	}
	streamForm(c, &in, v)
	if len(v.Fields) > 0 {
		return in, v
	}
	return in, nil
}

var planFields = map[string]string{
	"max_sessions": "Devices", "limit_policy": "At the limit", "idle_timeout": "Idle timeout", "absolute_timeout": "Absolute timeout",
	"name": "Name", "max_streams": "Streams", "stream_policy": "At the stream limit", "stream_class_limits": "Limits per class",
}

func (h *Handler) adminSavePlan(c *gin.Context) {
	in, err := planForm(c)
	enforce := c.PostForm("enforce") == "now"
	var res models.EnforceResult
	if err == nil {
		_, res, err = h.plans.Update(c.Request.Context(), api.AdminOf(c), c.Param("id"), in, enforce)
	}
	var invalid *models.ValidationError
	switch {
	case err == nil && res.Enforcing:
		c.Redirect(http.StatusSeeOther, "/admin?done=enforcing&n="+strconv.Itoa(res.Sessions))
	case err == nil && enforce:
		c.Redirect(http.StatusSeeOther, "/admin?done=enforced&n="+strconv.Itoa(res.Sessions))
	case err == nil:
		c.Redirect(http.StatusSeeOther, "/admin?done=plan_saved")
	case errors.As(err, &invalid):
		name := c.Param("id")
		if p, err := h.plans.Get(c.Request.Context(), c.Param("id")); err == nil {
			name = p.Name
		}
		h.renderAdmin(c, http.StatusBadRequest, &notice{Kind: "error", Title: "The " + name + " plan was not saved",
			Text: strings.Join(problems(invalid, planFields), "; ") + "."}, adminData{})
	default:
		h.fail(c, err)
	}
}

// adminUserData is one user as an admin sees them, with their signed-in devices.
type adminUserData struct {
	User       models.User
	PlanName   string
	Limit      int
	Sessions   []models.Session // active, newest first
	Identities []models.Identity
	Plans      []models.Plan // to move the user to
	Policies   []option
	Events     []models.SessionEvent // their latest history
	Streams    []streamRow           // nil: the pages run without streams
	MaxStreams int
}

func (h *Handler) adminUserPage(c *gin.Context) {
	var n *notice
	switch c.Query("done") {
	case "signed_out":
		n = &notice{Kind: "ok", Text: "The device was signed out."}
	case "gone":
		n = &notice{Kind: "ok", Text: "That device was already signed out."}
	case "all":
		n = &notice{Kind: "ok", Text: "Every device of this user was signed out."}
	case "role":
		n = &notice{Kind: "ok", Text: "The role was changed."}
	case "disabled":
		n = &notice{Kind: "ok", Text: "The account was disabled and every device of it signed out."}
	case "enabled":
		n = &notice{Kind: "ok", Text: "The account was enabled."}
	case "stream_ended":
		n = &notice{Kind: "ok", Text: "The stream was ended. Its device is told at its next heartbeat."}
	case "stream_gone":
		n = &notice{Kind: "ok", Text: "That stream had already ended."}
	case "limits":
		n = adminDone(c)
	}
	h.renderAdminUser(c, http.StatusOK, n)
}

func (h *Handler) renderAdminUser(c *gin.Context, status int, n *notice) {
	ctx := c.Request.Context()
	u, err := h.admin.Get(ctx, c.Param("id"))
	if err != nil {
		h.fail(c, err)
		return
	}
	list, err := h.sessions.List(ctx, u.ID)
	if err != nil {
		h.fail(c, err)
		return
	}
	plan, err := h.plans.Get(ctx, u.PlanID)
	if err != nil {
		h.fail(c, err)
		return
	}
	var identities []models.Identity
	if h.oidc != nil {
		if identities, err = h.oidc.Identities(ctx, u.ID); err != nil {
			h.fail(c, err)
			return
		}
	}
	plans, err := h.plans.List(ctx)
	if err != nil {
		h.fail(c, err)
		return
	}
	events, _, err := h.sessions.History(ctx, u.ID, 20, "")
	if err != nil {
		h.fail(c, err)
		return
	}
	d := adminUserData{User: u, PlanName: plan.Name, Limit: list.Limit.Max, Sessions: list.Sessions, Identities: identities,
		Plans: plans, Policies: policies, Events: events}
	if h.streams != nil {
		ss, err := h.streams.UserStreams(ctx, u.ID)
		if err != nil {
			h.fail(c, err)
			return
		}
		d.Streams, d.MaxStreams = streamRows(ss, h.now()), u.EffectiveStreamLimit(plan).Max
	}
	h.render(c, status, "admin_user", pageData{Nav: "admin", Wide: true, Notice: n, Data: d})
}

func (h *Handler) adminSignOutSession(c *gin.Context) {
	done := "signed_out"
	err := h.admin.RevokeSession(c.Request.Context(), api.AdminOf(c), c.Param("sid"))
	switch {
	case errors.Is(err, models.ErrNotFound):
		done = "gone"
	case err != nil:
		h.fail(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/admin/users/"+url.PathEscape(c.Param("id"))+"?done="+done)
}

func (h *Handler) adminSignOutUser(c *gin.Context) {
	if _, err := h.admin.RevokeSessions(c.Request.Context(), api.AdminOf(c), c.Param("id")); err != nil {
		h.fail(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/admin/users/"+url.PathEscape(c.Param("id"))+"?done=all")
}

// adminChangeUser makes the user an admin or a user (form field role), or disables or enables
// the account (disabled=true|false). Taking away the last enabled admin is refused with a
// notice on the user's page (409, as the API answers last_admin).
func (h *Handler) adminChangeUser(c *gin.Context) {
	var (
		p    models.UserPatch
		done string
	)
	switch role, disabled := c.PostForm("role"), c.PostForm("disabled"); {
	case role != "":
		r := models.Role(role)
		p.Role, done = &r, "role"
	case disabled == "true" || disabled == "false":
		d := disabled == "true"
		p.Disabled, done = &d, map[bool]string{true: "disabled", false: "enabled"}[d]
	default:
		h.fail(c, models.Invalid("role", "choose a role, or to disable or enable the account"))
		return
	}
	_, err := h.admin.Update(c.Request.Context(), api.AdminOf(c), c.Param("id"), p)
	switch {
	case err == nil:
		c.Redirect(http.StatusSeeOther, "/admin/users/"+url.PathEscape(c.Param("id"))+"?done="+done)
	case errors.Is(err, models.ErrLastAdmin):
		h.renderAdminUser(c, http.StatusConflict, &notice{Kind: "error", Title: "Not changed: this is the last enabled admin",
			Text: "Make another account admin first, so that someone can still manage sessiond."})
	default:
		h.fail(c, err)
	}
}
