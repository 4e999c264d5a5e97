package services

import (
	"context"
	"errors"
	"fmt"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/sessiond/sessiond/models"
)

// Heartbeat renews the lease of stream streamID, which the session of token must hold, and
// returns it. A stream that has ended answers *models.StreamEndedError with its reason (and
// the device that took its place); one that is not the session's models.ErrNotFound. A token
// whose session has ended (revoked, evicted, expired, its user disabled) answers for its
// stream *models.StreamEndedError with reason session_ended — the player learns that its
// stream is over, on any process, however fresh that process's cache — and otherwise the
// authentication error. Any other bad token is the authentication error.
func (s *Sessions) Heartbeat(ctx context.Context, token, streamID string) (models.Stream, error) {
	p, authErr := s.Authenticate(ctx, token)
	var sessionID string
	switch {
	case authErr == nil:
		sessionID = p.Session.ID
	case sessionEnded(authErr):
		id, _, _ := parseToken(token) // well-formed: its secret matched
		sessionID = id.String()
	default:
		return models.Stream{}, authErr
	}
	if !validID(streamID) {
		return models.Stream{}, notFoundOr(authErr)
	}
	now := s.now()
	if authErr != nil {
		// The session is over: never renew. Its stream ended with it unless it lapsed first.
		st, err := sessionStream(s.db.WithContext(ctx), streamID, sessionID)
		if errors.Is(err, models.ErrNotFound) {
			return models.Stream{}, authErr
		}
		if err != nil {
			return models.Stream{}, fmt.Errorf("heartbeat stream %s: %w", streamID, err)
		}
		if e := st.EndedError(now); e != nil {
			return models.Stream{}, e
		}
		return models.Stream{}, &models.StreamEndedError{Reason: models.StreamSessionEnded, EndedAt: now}
	}
	exp := now.Add(s.cfg.Streams.ttl())
	st, err := renewLease(ctx, s.db, now, exp, streamID, sessionID)
	if errors.Is(err, models.ErrNotFound) {
		return models.Stream{}, err
	}
	if err != nil {
		return models.Stream{}, fmt.Errorf("heartbeat stream %s: %w", streamID, err)
	}
	// Renewed, expires_at is exp (> now); otherwise the row says why it ended or that it lapsed.
	if e := st.EndedError(now); e != nil {
		return models.Stream{}, e
	}
	return st, nil
}

func notFoundOr(err error) error {
	if err != nil {
		return err
	}
	return models.ErrNotFound
}

// sessionEnded reports whether err says a well-formed token's session is over (its secret
// matched): revoked, evicted or expired.
func sessionEnded(err error) bool {
	var (
		revoked *models.SessionRevokedError
		evicted *models.SessionEvictedError
	)
	return errors.Is(err, models.ErrSessionExpired) || errors.As(err, &revoked) || errors.As(err, &evicted)
}

func sessionStream(db *gorm.DB, streamID, sessionID string) (models.Stream, error) {
	var st models.Stream
	err := db.Where("id = ? AND session_id = ?", streamID, sessionID).Take(&st).Error
	return st, storeError(err)
}

// StopStream ends one of the user's streams (reason stopped): the player's own, or another
// device's from the person's device list. models.ErrNotFound when it is not the user's; a
// stream already ended stays as it ended, and stopping it again is not an error.
func (s *Sessions) StopStream(ctx context.Context, userID, sessionID, streamID string) error {
	if !validID(streamID) {
		return models.ErrNotFound
	}
	now := s.now()
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var ended []models.Stream
		err := tx.Model(&ended).Clauses(clause.Returning{}).Where("id = ? AND user_id = ? AND ended_at IS NULL", streamID, userID).
			Updates(streamEndColumns(models.StreamStopped, streamEnd{by: sessionID}, now)).Error
		if err != nil {
			return storeError(err)
		}
		if len(ended) == 0 {
			var n int64
			if err := tx.Model(&models.Stream{}).Where("id = ? AND user_id = ?", streamID, userID).Count(&n).Error; err != nil {
				return storeError(err)
			}
			if n == 0 {
				return models.ErrNotFound
			}
			return nil
		}
		return streamEndEvents(tx, ended, models.StreamStopped, streamEnd{by: sessionID, actor: actorSelf(userID)}, now)
	})
	if err != nil {
		return fmt.Errorf("stop stream %s: %w", streamID, err)
	}
	return nil
}

// ListStreams returns the user's streams playing now, newest first, and the limit they count
// against.
func (s *Sessions) ListStreams(ctx context.Context, userID string) (models.StreamList, error) {
	now := s.now()
	db := s.db.WithContext(ctx)
	var u models.User
	if err := db.Where("id = ?", userID).Take(&u).Error; err != nil {
		return models.StreamList{}, fmt.Errorf("list streams user %s: %w", userID, storeError(err))
	}
	plan, err := planOf(db, u.PlanID)
	if err != nil {
		return models.StreamList{}, fmt.Errorf("list streams user %s: %w", userID, err)
	}
	var ss []models.Stream
	err = db.Where("user_id = ? AND ended_at IS NULL AND expires_at > ?", userID, now).Order("started_at DESC, id DESC").Find(&ss).Error
	if err != nil {
		return models.StreamList{}, fmt.Errorf("list streams user %s: %w", userID, storeError(err))
	}
	return models.StreamList{Streams: ss, Limit: u.EffectiveStreamLimit(plan)}, nil
}

// UserStreams returns a user's streams for an admin, newest first: those playing and those
// ended within the retention. models.ErrNotFound for an unknown user.
func (s *Sessions) UserStreams(ctx context.Context, userID string) ([]models.Stream, error) {
	if !validID(userID) {
		return nil, models.ErrNotFound
	}
	db := s.db.WithContext(ctx)
	var n int64
	if err := db.Model(&models.User{}).Where("id = ?", userID).Count(&n).Error; err != nil {
		return nil, fmt.Errorf("user streams %s: %w", userID, storeError(err))
	}
	if n == 0 {
		return nil, models.ErrNotFound
	}
	var ss []models.Stream
	if err := db.Where("user_id = ?", userID).Order("started_at DESC, id DESC").Limit(200).Find(&ss).Error; err != nil {
		return nil, fmt.Errorf("user streams %s: %w", userID, storeError(err))
	}
	return ss, nil
}

// EndStream ends any user's stream for an admin (reason revoked_by_admin) and audits it.
// models.ErrNotFound when there is no such stream playing.
func (s *Sessions) EndStream(ctx context.Context, by models.Admin, streamID string) error {
	if !validID(streamID) {
		return models.ErrNotFound
	}
	now := s.now()
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var ended []models.Stream
		e := streamEnd{by: by.ID, actor: actorOf(by)}
		err := tx.Model(&ended).Clauses(clause.Returning{}).Where("id = ? AND ended_at IS NULL", streamID).
			Updates(streamEndColumns(models.StreamRevokedByAdmin, e, now)).Error
		if err != nil {
			return storeError(err)
		}
		if len(ended) == 0 {
			return models.ErrNotFound
		}
		if err := streamEndEvents(tx, ended, models.StreamRevokedByAdmin, e, now); err != nil {
			return err
		}
		return audit(tx, by, "stream.end", "stream", streamID, now, map[string]any{"user_id": ended[0].UserID})
	})
	if err != nil {
		return fmt.Errorf("end stream %s: %w", streamID, err)
	}
	return nil
}

// StreamObserver hears of stream starts and refusals, by plan name (metrics). An Observer
// that also implements it is told.
type StreamObserver interface {
	StreamStarted(plan string, takenOver int)
	StreamRejected(plan string)
}

func (os Observers) StreamStarted(plan string, takenOver int) {
	for _, x := range os {
		if o, ok := x.(StreamObserver); ok {
			o.StreamStarted(plan, takenOver)
		}
	}
}

func (os Observers) StreamRejected(plan string) {
	for _, x := range os {
		if o, ok := x.(StreamObserver); ok {
			o.StreamRejected(plan)
		}
	}
}

type nopStreamObserver struct{}

func (nopStreamObserver) StreamStarted(string, int) {}
func (nopStreamObserver) StreamRejected(string)     {}

func (s *Sessions) streamObserver() StreamObserver {
	if o, ok := s.cfg.Observer.(StreamObserver); ok {
		return o
	}
	return nopStreamObserver{}
}

// StreamState returns the user's stream streamID if its lease is live now (introspection with
// stream_id: a licence server refuses keys to an ended stream); models.ErrNotFound otherwise:
// ended, lapsed, unknown or another user's.
func (s *Sessions) StreamState(ctx context.Context, userID, streamID string) (models.Stream, error) {
	if !validID(streamID) {
		return models.Stream{}, models.ErrNotFound
	}
	var st models.Stream
	err := s.db.WithContext(ctx).Where("id = ? AND user_id = ? AND ended_at IS NULL AND expires_at > ?", streamID, userID, s.now()).Take(&st).Error
	if err != nil {
		return models.Stream{}, fmt.Errorf("stream state %s: %w", streamID, storeError(err))
	}
	return st, nil
}
