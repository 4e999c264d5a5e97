package api

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/sessiond/sessiond/models"
)

// Plans, as an admin manages them (API.md "Admin"): list, create, read, change (with
// ?enforce=now, at once), delete.

type planRequest struct {
	Name            *string          `json:"name"`
	MaxSessions     *int             `json:"max_sessions"`
	LimitPolicy     *string          `json:"limit_policy"`
	IdleTimeout     optional[string] `json:"idle_timeout"`
	AbsoluteTimeout optional[string] `json:"absolute_timeout"`

	MaxStreams        *int                        `json:"max_streams"`
	StreamPolicy      *string                     `json:"stream_policy"`
	StreamClassLimits *map[models.StreamClass]int `json:"stream_class_limits"`
}

// input converts the request, parsing Go durations ("336h").
func (r planRequest) input() (models.PlanInput, error) {
	in := models.PlanInput{Name: r.Name, MaxSessions: r.MaxSessions, MaxStreams: r.MaxStreams}
	if r.StreamPolicy != nil {
		sp := models.StreamPolicy(*r.StreamPolicy)
		in.StreamPolicy = &sp
	}
	if r.StreamClassLimits != nil {
		l := models.StreamClassLimits(*r.StreamClassLimits)
		in.StreamClassLimits = &l
	}
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
		out["enforced"] = gin.H{"users": res.Users, "sessions_evicted": res.Sessions, "streams_ended": res.Streams}
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
