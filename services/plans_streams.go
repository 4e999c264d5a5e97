package services

import (
	"fmt"

	"github.com/sessiond/sessiond/models"
)

// applyStreamInput validates a plan's stream fields in in and writes those it sets into plan;
// problems go into v.
func applyStreamInput(plan *models.Plan, in models.PlanInput, v *models.ValidationError) {
	if in.MaxStreams != nil {
		if *in.MaxStreams < 1 || *in.MaxStreams > MaxPlanSessions {
			v.Fields["max_streams"] = fmt.Sprintf("must be between 1 and %d", MaxPlanSessions)
		}
		plan.MaxStreams = *in.MaxStreams
	}
	if in.StreamPolicy != nil {
		if !in.StreamPolicy.Valid() {
			v.Fields["stream_policy"] = "must be reject or takeover_oldest"
		}
		plan.StreamPolicy = *in.StreamPolicy
	}
	if in.StreamClassLimits != nil {
		limits := models.StreamClassLimits{}
		for class, n := range *in.StreamClassLimits {
			if !class.Valid() {
				v.Fields["stream_class_limits"] = fmt.Sprintf("unknown class %.32q: classes are vod, live, audio", class)
				continue
			}
			if n < 1 || n > MaxPlanSessions {
				v.Fields["stream_class_limits"] = fmt.Sprintf("limit of %s must be between 1 and %d", class, MaxPlanSessions)
				continue
			}
			limits[class] = n
		}
		plan.StreamClassLimits = limits
	}
}
