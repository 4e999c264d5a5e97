package services

import (
	"context"
	"fmt"

	"gorm.io/gorm"
)

// Health answers whether the store can be reached.
type Health struct{ db *gorm.DB }

// NewHealth returns a Health over db.
func NewHealth(db *gorm.DB) *Health { return &Health{db: db} }

// Ping round-trips to the store within ctx's deadline; any failure is models.ErrUnavailable.
func (h *Health) Ping(ctx context.Context) error {
	sqlDB, err := h.db.DB()
	if err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	if err := sqlDB.PingContext(ctx); err != nil {
		return fmt.Errorf("ping: %w", unavailable(err))
	}
	return nil
}
