package web

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/sessiond/sessiond/models"
)

// The stream limit on the admin pages (issue 22): a plan's max_streams, stream_policy and
// class limits, edited beside its device limit.

var streamPolicies = []option{
	{"reject", "Ask which stream to stop"},
	{"takeover_oldest", "Stop the oldest stream"},
}

// streamForm reads a plan row's stream fields into in; a row without them (an older page)
// leaves the plan's as they are. Class limits are written "live=1, audio=2"; empty clears them.
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
	s, ok := c.GetPostForm("stream_class_limits")
	if !ok {
		return
	}
	limits := models.StreamClassLimits{}
	for pair := range strings.SplitSeq(s, ",") {
		if pair = strings.TrimSpace(pair); pair == "" {
			continue
		}
		class, count, found := strings.Cut(pair, "=")
		n, err := strconv.Atoi(strings.TrimSpace(count))
		if !found || err != nil {
			v.Fields["stream_class_limits"] = `must read like "live=1, audio=2", or be empty`
			return
		}
		limits[models.StreamClass(strings.TrimSpace(class))] = n
	}
	in.StreamClassLimits = &limits
}

// classLimits writes class limits as the form takes them: "live=1, audio=2".
func classLimits(l models.StreamClassLimits) string {
	parts := make([]string, 0, len(l))
	for _, c := range slices.Sorted(maps.Keys(l)) {
		parts = append(parts, fmt.Sprintf("%s=%d", c, l[c]))
	}
	return strings.Join(parts, ", ")
}
