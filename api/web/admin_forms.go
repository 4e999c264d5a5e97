package web

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/sessiond/sessiond/api"
	"github.com/sessiond/sessiond/models"
)

// The admin page's forms beyond editing a plan: create and delete a plan, create and delete a
// service client (its secret shown once), and a user's plan and limit overrides. Each calls
// the same service method as the admin API.

// adminDone is the notice of an admin form that redirected back to /admin.
func adminDone(c *gin.Context) *notice {
	switch c.Query("done") {
	case "plan_created":
		return &notice{Kind: "ok", Text: "Plan created."}
	case "plan_deleted":
		return &notice{Kind: "ok", Text: "Plan deleted."}
	case "client_deleted":
		return &notice{Kind: "ok", Text: "Service client deleted: its secret no longer works."}
	case "limits":
		return &notice{Kind: "ok", Text: "The plan and limits were saved. They apply at the user's next sign-in."}
	}
	return doneNotice(c)
}

func (h *Handler) adminCreatePlan(c *gin.Context) {
	form := newPlanForm{Name: c.PostForm("name"), MaxSessions: c.PostForm("max_sessions"), LimitPolicy: c.PostForm("limit_policy"),
		IdleTimeout: c.PostForm("idle_timeout"), AbsoluteTimeout: c.PostForm("absolute_timeout"),
		MaxStreams: c.PostForm("max_streams"), StreamPolicy: c.PostForm("stream_policy"), StreamClassLimits: c.PostForm("stream_class_limits")}
	in, err := planForm(c)
	if err == nil {
		name := form.Name
		in.Name = &name
		_, err = h.plans.Create(c.Request.Context(), api.AdminOf(c), in)
	}
	var invalid *models.ValidationError
	switch {
	case err == nil:
		c.Redirect(http.StatusSeeOther, "/admin?done=plan_created#plans")
	case errors.As(err, &invalid):
		var problems []string
		for field, problem := range invalid.Fields {
			problems = append(problems, cmpLabel(planFields[field], field)+" "+problem)
		}
		slices.Sort(problems)
		h.renderAdmin(c, http.StatusBadRequest, &notice{Kind: "error", Title: "The plan was not created",
			Text: strings.Join(problems, "; ") + "."}, adminData{NewPlan: form})
	case errors.Is(err, models.ErrConflict):
		h.renderAdmin(c, http.StatusConflict, &notice{Kind: "error", Title: "The plan was not created",
			Text: "A plan named “" + strings.TrimSpace(form.Name) + "” exists already."}, adminData{NewPlan: form})
	default:
		h.fail(c, err)
	}
}

func cmpLabel(label, field string) string {
	if label == "" {
		return strings.ToUpper(field[:1]) + strings.ReplaceAll(field[1:], "_", " ")
	}
	return label
}

func (h *Handler) adminDeletePlan(c *gin.Context) {
	err := h.plans.Delete(c.Request.Context(), api.AdminOf(c), c.Param("id"))
	switch {
	case err == nil:
		c.Redirect(http.StatusSeeOther, "/admin?done=plan_deleted#plans")
	case errors.Is(err, models.ErrPlanInUse):
		h.renderAdmin(c, http.StatusConflict, &notice{Kind: "error", Title: "The plan was not deleted",
			Text: "Users are on it: move them to another plan first."}, adminData{})
	default:
		h.fail(c, err)
	}
}

func (h *Handler) adminCreateClient(c *gin.Context) {
	sc, secret, err := h.clients.Create(c.Request.Context(), api.AdminOf(c), c.PostForm("name"))
	var invalid *models.ValidationError
	switch {
	case err == nil:
		// Answered here, not through a redirect: the secret must not travel in a URL, and is
		// never shown again.
		h.renderAdmin(c, http.StatusCreated, &notice{Kind: "ok", Title: "Service client created",
			Text: "Copy its secret now: it is shown only this once."}, adminData{Created: &createdClient{ID: sc.ID, Name: sc.Name, Secret: secret}})
	case errors.As(err, &invalid):
		h.renderAdmin(c, http.StatusBadRequest, &notice{Kind: "error", Title: "The service client was not created",
			Text: "Its name " + invalid.Fields["name"] + "."}, adminData{})
	case errors.Is(err, models.ErrConflict):
		h.renderAdmin(c, http.StatusConflict, &notice{Kind: "error", Title: "The service client was not created",
			Text: "A service client of that name exists already."}, adminData{})
	default:
		h.fail(c, err)
	}
}

func (h *Handler) adminDeleteClient(c *gin.Context) {
	if err := h.clients.Delete(c.Request.Context(), api.AdminOf(c), c.Param("id")); err != nil && !errors.Is(err, models.ErrNotFound) {
		h.fail(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/admin?done=client_deleted#clients")
}

// adminUserLimits moves the user to a plan and sets or clears their device-limit overrides
// (an empty field clears one), as PATCH /v1/admin/users/{id} does.
func (h *Handler) adminUserLimits(c *gin.Context) {
	var p models.UserPatch
	if plan := c.PostForm("plan_id"); plan != "" {
		p.PlanID = &plan
	}
	p.MaxSessionsOverride.Set, p.LimitPolicyOverride.Set = true, true
	if s := strings.TrimSpace(c.PostForm("max_sessions_override")); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			h.renderAdminUser(c, http.StatusBadRequest, &notice{Kind: "error", Title: "Not saved",
				Text: "The device limit override must be a whole number, or empty for the plan's."})
			return
		}
		p.MaxSessionsOverride.Value = &n
	}
	if s := c.PostForm("limit_policy_override"); s != "" {
		policy := models.LimitPolicy(s)
		p.LimitPolicyOverride.Value = &policy
	}
	_, err := h.admin.Update(c.Request.Context(), api.AdminOf(c), c.Param("id"), p)
	var invalid *models.ValidationError
	switch {
	case err == nil:
		c.Redirect(http.StatusSeeOther, "/admin/users/"+url.PathEscape(c.Param("id"))+"?done=limits")
	case errors.As(err, &invalid):
		var problems []string
		for field, problem := range invalid.Fields {
			problems = append(problems, cmpLabel("", field)+" "+problem)
		}
		slices.Sort(problems)
		h.renderAdminUser(c, http.StatusBadRequest, &notice{Kind: "error", Title: "Not saved", Text: strings.Join(problems, "; ") + "."})
	default:
		h.fail(c, err)
	}
}
