package services

import (
	"context"
	"errors"
	"fmt"
	"time"
	"unicode"
	"unicode/utf8"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/sessiond/sessiond/models"
)

// StreamsConfig sets the stream leases' timing.
type StreamsConfig struct {
	HeartbeatInterval time.Duration // told to players; 0: DefaultHeartbeatInterval
	LeaseTTL          time.Duration // a lease without a heartbeat this long ends; 0: 3 × the interval
}

// DefaultHeartbeatInterval is how often players renew their lease unless configured.
const DefaultHeartbeatInterval = 60 * time.Second

func (c StreamsConfig) interval() time.Duration {
	if c.HeartbeatInterval <= 0 {
		return DefaultHeartbeatInterval
	}
	return c.HeartbeatInterval
}

func (c StreamsConfig) ttl() time.Duration {
	if c.LeaseTTL <= 0 {
		return 3 * c.interval()
	}
	return c.LeaseTTL
}

// StartStream starts a stream on the user's session sessionID under the user's stream limit
// and returns its lease. The session's own stream, if any, ends (replaced) and frees its slot.
// At the limit, p.ReplaceStreamID (one of the user's streams) is taken over; otherwise the
// takeover_oldest policy ends the oldest stream (of the class, for a class limit), while the
// reject policy returns *models.StreamLimitError listing the streams, after recording the
// refusal. *models.ValidationError for a bad content id or class; *models.SessionRevokedError
// when the session ended meanwhile.
//
// Concurrency: the decision is taken under the lock of the user's row, the lock every session
// end takes too, so the limit is exact across processes, and no stream starts on a session
// that is being ended.
func (s *Sessions) StartStream(ctx context.Context, userID, sessionID string, p models.StreamParams) (models.StreamStart, error) {
	if err := cleanStreamParams(&p); err != nil {
		return models.StreamStart{}, err
	}
	now := s.now()
	var (
		res      models.StreamStart
		limitErr *models.StreamLimitError
		planName string
	)
	err := transact(ctx, s.db, s.cfg.Observer, func(tx *gorm.DB, out *ended) error {
		res, limitErr = models.StreamStart{}, nil
		user, err := lockUser(tx, userID)
		if err != nil {
			return err
		}
		var sess models.Session
		if err := storeError(tx.Where("id = ? AND user_id = ?", sessionID, userID).Take(&sess).Error); err != nil {
			return err
		}
		if sess.Revoked() {
			return &models.SessionRevokedError{Reason: *sess.RevokeReason, RevokedAt: *sess.RevokedAt}
		}
		plan, err := planOf(tx, user.PlanID)
		if err != nil {
			return err
		}
		planName = plan.Name
		active, err := liveStreams(tx, userID, now)
		if err != nil {
			return err
		}
		limit := user.EffectiveStreamLimit(plan)
		adm, err := models.AdmitStream(active, sessionID, p.Class, p.ReplaceStreamID, limit)
		if errors.As(err, &limitErr) {
			// Commit the refusal to the history; the caller still gets the error.
			ev := sessionEvent(sess, models.EventStreamRejected, actorSelf(userID), now, map[string]any{
				"limit": limitErr.Limit, "class": string(p.Class), "content_id": p.ContentID, "plan_id": plan.ID})
			return insertEvents(tx, ev)
		}
		if err != nil {
			return err
		}
		st := models.Stream{
			ID: newID(), UserID: userID, SessionID: sessionID,
			DeviceID: sess.DeviceID, DeviceName: sess.DeviceName, DeviceType: sess.DeviceType,
			ContentID: p.ContentID, Class: p.Class,
			StartedAt: now, LastHeartbeatAt: now, ExpiresAt: now.Add(s.cfg.Streams.ttl()),
		}
		by := streamEnd{by: st.ID, byDevice: sess.DeviceName, actor: actorSelf(userID)}
		replaced, err := endStreams(tx, adm.Replaced, models.StreamReplaced, by, now)
		if err != nil {
			return err
		}
		taken, err := endStreams(tx, adm.TakenOver, models.StreamTakenOver, by, now)
		if err != nil {
			return err
		}
		if err := storeError(tx.Create(&st).Error); err != nil {
			return err
		}
		res = models.StreamStart{Stream: st, HeartbeatInterval: s.cfg.Streams.interval(), Ended: append(replaced, taken...)}
		return insertEvents(tx, sessionEvent(sess, models.EventStreamStarted, actorSelf(userID), now, map[string]any{
			"stream_id": st.ID, "class": string(st.Class), "content_id": st.ContentID, "plan_id": plan.ID}))
	})
	if err == nil && limitErr != nil {
		s.streamObserver().StreamRejected(planName)
		return models.StreamStart{}, limitErr
	}
	if err != nil {
		return models.StreamStart{}, fmt.Errorf("start stream user %s: %w", userID, err)
	}
	s.streamObserver().StreamStarted(planName, len(res.Ended)-countReplaced(res.Ended))
	return res, nil
}

func countReplaced(ss []models.Stream) int {
	n := 0
	for _, s := range ss {
		if s.EndReason != nil && *s.EndReason == models.StreamReplaced {
			n++
		}
	}
	return n
}

// cleanStreamParams validates p and fills in the default class.
func cleanStreamParams(p *models.StreamParams) error {
	v := &models.ValidationError{Fields: map[string]string{}}
	if len(p.ContentID) > models.MaxContentIDLen {
		v.Fields["content_id"] = fmt.Sprintf("must be at most %d bytes", models.MaxContentIDLen)
	} else if !utf8.ValidString(p.ContentID) || containsControl(p.ContentID) {
		v.Fields["content_id"] = "must be printable UTF-8"
	}
	if p.Class == "" {
		p.Class = models.ClassVOD
	} else if !p.Class.Valid() {
		v.Fields["class"] = "must be vod, live or audio"
	}
	if p.ReplaceStreamID != "" && !validID(p.ReplaceStreamID) {
		v.Fields["replace_stream_id"] = "must be a stream id"
	}
	if len(v.Fields) > 0 {
		return v
	}
	return nil
}

func containsControl(s string) bool {
	for _, r := range s {
		if unicode.IsControl(r) {
			return true
		}
	}
	return false
}

// liveStreams returns the user's streams holding a slot at now, oldest first. A lease that
// lapsed without its heartbeat holds none: it is marked expired here, under the user's lock,
// if the purge has not done it yet.
func liveStreams(tx *gorm.DB, userID string, now time.Time) ([]models.Stream, error) {
	var all []models.Stream
	if err := tx.Where("user_id = ? AND ended_at IS NULL", userID).Order("started_at, id").Find(&all).Error; err != nil {
		return nil, storeError(err)
	}
	var live, lapsed []models.Stream
	for _, st := range all {
		if st.Active(now) {
			live = append(live, st)
		} else {
			lapsed = append(lapsed, st)
		}
	}
	for _, st := range lapsed {
		err := tx.Model(&models.Stream{}).Where("id = ? AND ended_at IS NULL", st.ID).
			Updates(map[string]any{"ended_at": st.ExpiresAt, "end_reason": models.StreamExpired}).Error
		if err != nil {
			return nil, storeError(err)
		}
	}
	return live, nil
}

// streamEnd says who ends streams: the stream, session or admin (by), the device that takes
// their place (byDevice, "" when none) and the actor of the events.
type streamEnd struct {
	by, byDevice string
	actor        actor
}

// streamEvents is the event each end reason is recorded as.
func streamEvent(r models.StreamEndReason) models.EventType {
	if r == models.StreamTakenOver {
		return models.EventStreamTakenOver
	}
	return models.EventStreamEnded
}

// endStreams ends the given live streams with reason and writes one event each. It returns
// them as ended. Streams ended meanwhile (by a heartbeat-less lapse or a stop) are left as
// they are.
func endStreams(tx *gorm.DB, ss []models.Stream, reason models.StreamEndReason, e streamEnd, now time.Time) ([]models.Stream, error) {
	if len(ss) == 0 {
		return nil, nil
	}
	ids := make([]string, len(ss))
	for i, st := range ss {
		ids[i] = st.ID
	}
	var ended []models.Stream
	err := tx.Model(&ended).Clauses(clause.Returning{}).Where("id IN ? AND ended_at IS NULL", ids).
		Updates(streamEndColumns(reason, e, now)).Error
	if err != nil {
		return nil, storeError(err)
	}
	return ended, streamEndEvents(tx, ended, reason, e, now)
}

func streamEndColumns(reason models.StreamEndReason, e streamEnd, now time.Time) map[string]any {
	cols := map[string]any{"ended_at": now, "end_reason": reason, "ended_by": e.by}
	if e.byDevice != "" {
		cols["ended_by_device_name"] = e.byDevice
	}
	return cols
}

func streamEndEvents(tx *gorm.DB, ended []models.Stream, reason models.StreamEndReason, e streamEnd, now time.Time) error {
	events := make([]models.SessionEvent, len(ended))
	for i, st := range ended {
		sid := st.SessionID
		events[i] = models.SessionEvent{
			ID: newID(), UserID: st.UserID, SessionID: &sid, Type: streamEvent(reason),
			DeviceID: st.DeviceID, DeviceName: st.DeviceName, DeviceType: st.DeviceType,
			ActorKind: e.actor.kind, ActorID: e.actor.id, At: now,
			Details: jsonObject(map[string]any{"stream_id": st.ID, "reason": string(reason), "class": string(st.Class), "by_device_name": e.byDevice}),
		}
	}
	return insertEvents(tx, events...)
}

// endSessionStreams ends the live streams of sessions that are ending (reason session_ended),
// in the transaction that ends them: revoke calls it, so every way a session ends takes its
// stream with it.
func endSessionStreams(tx *gorm.DB, sessionIDs []string, by string, a actor, now time.Time) error {
	var ended []models.Stream
	err := tx.Model(&ended).Clauses(clause.Returning{}).Where("session_id IN ? AND ended_at IS NULL", sessionIDs).
		Updates(streamEndColumns(models.StreamSessionEnded, streamEnd{by: by}, now)).Error
	if err != nil {
		return storeError(err)
	}
	return streamEndEvents(tx, ended, models.StreamSessionEnded, streamEnd{by: by, actor: a}, now)
}
