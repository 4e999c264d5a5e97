package services

import (
	"context"
	"errors"

	"github.com/sessiond/sessiond/models"
)

// Introspect answers a service client about a token (POST /v1/introspect); the caller has
// checked the client's credentials (Clients.Authenticate). Any token that is not usable now (malformed, unknown, revoked, evicted, expired, its user
// disabled) is simply inactive: the client learns nothing more. Only a store failure is an
// error (models.ErrUnavailable): "inactive" is never said of a token that was not checked.
func (s *Sessions) Introspect(ctx context.Context, token string) (models.Introspection, error) {
	p, err := s.Authenticate(ctx, token)
	if err == nil {
		return models.Introspection{Active: true, Principal: *p}, nil
	}
	if errors.Is(err, models.ErrUnavailable) {
		return models.Introspection{}, err
	}
	var (
		revoked *models.SessionRevokedError
		evicted *models.SessionEvictedError
	)
	if errors.Is(err, models.ErrSessionInvalid) || errors.Is(err, models.ErrSessionExpired) ||
		errors.As(err, &revoked) || errors.As(err, &evicted) {
		return models.Introspection{}, nil
	}
	return models.Introspection{}, err
}
