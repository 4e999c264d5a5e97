package web

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/sessiond/sessiond/models"
)

// A plan's stream fields on the admin page's forms (issue 22): how many devices may play at
// once, what a start at that limit does, and lower caps per class written "live=1, audio=2".

var streamPolicies = []option{
	{string(models.StreamReject), "Ask which stream to stop"},
	{string(models.StreamTakeoverOldest), "Stop the oldest stream"},
}

// streamForm reads the stream fields of a plan form into in, those present only; problems go
// into v under the API's field names.
func streamForm(c *gin.Context, in *models.PlanInput, v *models.ValidationError) {
	if s, ok := c.GetPostForm("max_streams"); ok {
		if n, err := strconv.Atoi(strings.TrimSpace(s)); err == nil {
			in.MaxStreams = &n
		} else {
			v.Fields["max_streams"] = "must be a whole number"
		}
	}
	if s, ok := c.GetPostForm("stream_policy"); ok {
		p := models.StreamPolicy(s)
		in.StreamPolicy = &p
	}
	if s, ok := c.GetPostForm("stream_class_limits"); ok {
		limits, err := parseClassLimits(s)
		if err != nil {
			v.Fields["stream_class_limits"] = err.Error()
			return
		}
		in.StreamClassLimits = &limits
	}
}

// parseClassLimits reads "live=1, audio=2" (empty: none); the service checks classes and bounds.
func parseClassLimits(s string) (models.StreamClassLimits, error) {
	limits := models.StreamClassLimits{}
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		class, n, ok := strings.Cut(part, "=")
		limit, err := strconv.Atoi(strings.TrimSpace(n))
		if !ok || err != nil {
			return nil, fmt.Errorf(`must read like "live=1, audio=2"`)
		}
		limits[models.StreamClass(strings.TrimSpace(class))] = limit
	}
	return limits, nil
}

// classLimits writes a plan's class limits as the form reads them.
func classLimits(l models.StreamClassLimits) string {
	parts := make([]string, 0, len(l))
	for class, n := range l {
		parts = append(parts, string(class)+"="+strconv.Itoa(n))
	}
	slices.Sort(parts)
	return strings.Join(parts, ", ")
}
