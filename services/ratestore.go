package services

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// rateStore keeps the GCRA state of the per-address limits in the rate_limits table
// (throttled.GCRAStoreCtx). Time is the application clock, which every process shares
// closely enough (GCRA tolerates small skews).
type rateStore struct {
	db  *gorm.DB
	now func() time.Time
}

// rateStoreError marks a store failure, so that it is not taken for a lost race.
type rateStoreError struct{ err error }

func (e *rateStoreError) Error() string { return "rate limit store: " + e.err.Error() }

func storeFailed(err error) error {
	if err == nil {
		return nil
	}
	return &rateStoreError{err: fmt.Errorf("rate limit: %w", storeError(err))}
}

func (s *rateStore) GetWithTime(ctx context.Context, key string) (int64, time.Time, error) {
	now := s.now()
	var values []int64
	err := s.db.WithContext(ctx).Raw(`SELECT value FROM rate_limits WHERE key = ? AND expires_at > ?`, key, now).Scan(&values).Error
	if err != nil || len(values) == 0 {
		return -1, now, storeFailed(err)
	}
	return values[0], now, nil
}

func (s *rateStore) SetIfNotExistsWithTTL(ctx context.Context, key string, value int64, ttl time.Duration) (bool, error) {
	now := s.now()
	res := s.db.WithContext(ctx).Exec(`INSERT INTO rate_limits (key, value, expires_at) VALUES (?, ?, ?)
ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at
WHERE rate_limits.expires_at <= ?`, key, value, now.Add(ttl), now)
	return res.RowsAffected == 1, storeFailed(res.Error)
}

func (s *rateStore) CompareAndSwapWithTTL(ctx context.Context, key string, old, value int64, ttl time.Duration) (bool, error) {
	now := s.now()
	res := s.db.WithContext(ctx).Exec(`UPDATE rate_limits SET value = ?, expires_at = ? WHERE key = ? AND value = ? AND expires_at > ?`,
		value, now.Add(ttl), key, old, now)
	return res.RowsAffected == 1, storeFailed(res.Error)
}
