package services

import (
	"context"
	"fmt"

	"gorm.io/gorm"

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

// enforceStreams ends, for every user of the plan playing more streams than the plan now
// allows (the user's override included), the newest streams over the limit (reason
// limit_lowered), one user per transaction under the user's lock. It returns how many ended.
// Unlike the session enforcement it is not recorded to be resumed: a run cut short leaves the
// remaining users over the limit until their next start, which then admits nobody new.
func (p *Plans) enforceStreams(ctx context.Context, by models.Admin, planID string) (int, error) {
	var userIDs []string
	err := p.db.WithContext(ctx).Model(&models.Stream{}).Distinct("streams.user_id").
		Joins("JOIN users ON users.id = streams.user_id").
		Where("users.plan_id = ? AND streams.ended_at IS NULL", planID).Pluck("streams.user_id", &userIDs).Error
	if err != nil {
		return 0, fmt.Errorf("enforce streams plan %s: %w", planID, storeError(err))
	}
	total := 0
	for _, userID := range userIDs {
		now := clock(p.now)
		err := p.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			user, err := lockUser(tx, userID)
			if err != nil {
				return err
			}
			plan, err := planOf(tx, user.PlanID)
			if err != nil {
				return err
			}
			live, err := liveStreams(tx, userID, now)
			if err != nil {
				return err
			}
			over := models.StreamsOverLimit(live, user.EffectiveStreamLimit(plan))
			ended, err := endStreams(tx, over, models.StreamLimitLowered, streamEnd{by: by.ID, actor: actorOf(by)}, now)
			total += len(ended)
			return err
		})
		if err != nil {
			return total, fmt.Errorf("enforce streams user %s: %w", userID, err)
		}
	}
	return total, nil
}
