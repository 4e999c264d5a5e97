package services

import (
	"context"
	"errors"
	"fmt"

	"github.com/sessiond/sessiond/models"
)

// Introspect answers a service client about a token (POST /v1/introspect). The client's id and
// secret must match a service client that is not disabled, else models.ErrInvalidClient. Any
// token that is not usable now (malformed, unknown, revoked, evicted, expired, its user
// disabled) is simply inactive: the client learns nothing more. Only a store failure is an
// error (models.ErrUnavailable): "inactive" is never said of a token that was not checked.
func (s *Sessions) Introspect(ctx context.Context, clientID, clientSecret, token string) (models.Introspection, error) {
	if err := s.authenticateClient(ctx, clientID, clientSecret); err != nil {
		return models.Introspection{}, err
	}
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

// authenticateClient checks a service client's credentials: the secret's SHA-256 against the
// stored one, in constant time.
func (s *Sessions) authenticateClient(ctx context.Context, id, secret string) error {
	raw, err := b64.DecodeString(secret)
	if !validID(id) || err != nil || len(raw) != clientSecretBytes {
		return models.ErrInvalidClient
	}
	var c models.ServiceClient
	err = s.db.WithContext(ctx).Where("id = ?", id).Take(&c).Error
	if err = storeError(err); errors.Is(err, models.ErrNotFound) {
		return models.ErrInvalidClient
	}
	if err != nil {
		return fmt.Errorf("service client: %w", err)
	}
	if c.DisabledAt != nil || !secretMatches(raw, c.SecretHash) {
		return models.ErrInvalidClient
	}
	return nil
}
