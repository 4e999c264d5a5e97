package services

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/sessiond/sessiond/models"
)

// clientSecretBytes is the entropy of a service client's secret.
const clientSecretBytes = 32

// maxClientNameLen bounds a service client's name, in characters (as a plan's).
const maxClientNameLen = maxPlanNameLen

// ClientsConfig configures the service-client use cases.
type ClientsConfig struct {
	Now func() time.Time // nil = time.Now
}

// Clients manages the service clients, the other services that ask sessiond about tokens
// (POST /v1/introspect), and checks their credentials. A client's secret is shown once, at
// creation; the store keeps its SHA-256.
type Clients struct {
	db  *gorm.DB
	cfg ClientsConfig
}

// NewClients returns the service-client use cases over db.
func NewClients(db *gorm.DB, cfg ClientsConfig) *Clients { return &Clients{db: db, cfg: cfg} }

// Create registers a service client and returns it with its secret, shown only here. An
// admin's act, audited. Errors: *models.ValidationError for a bad name, models.ErrConflict
// when the name is taken.
func (cl *Clients) Create(ctx context.Context, by models.Admin, name string) (models.ServiceClient, string, error) {
	name, err := cleanName("name", name, maxClientNameLen)
	if err != nil {
		return models.ServiceClient{}, "", err
	}
	secret, hash, err := newSecret(clientSecretBytes)
	if err != nil {
		return models.ServiceClient{}, "", err
	}
	now := clock(cl.cfg.Now)
	c := models.ServiceClient{ID: newID(), Name: name, SecretHash: hash, CreatedAt: now}
	err = cl.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := storeError(tx.Create(&c).Error); err != nil {
			return err
		}
		return audit(tx, by, "service_client.create", "service_client", c.ID, now, map[string]any{"name": name})
	})
	if err != nil {
		return models.ServiceClient{}, "", fmt.Errorf("create service client: %w", err)
	}
	return c, secret, nil
}

// List returns the service clients, by name.
func (cl *Clients) List(ctx context.Context) ([]models.ServiceClient, error) {
	var cs []models.ServiceClient
	if err := cl.db.WithContext(ctx).Order("name").Find(&cs).Error; err != nil {
		return nil, fmt.Errorf("list service clients: %w", storeError(err))
	}
	return cs, nil
}

// Delete removes a service client, audited; models.ErrNotFound when absent.
func (cl *Clients) Delete(ctx context.Context, by models.Admin, id string) error {
	if !validID(id) {
		return models.ErrNotFound
	}
	now := clock(cl.cfg.Now)
	err := cl.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		del := tx.Where("id = ?", id).Delete(&models.ServiceClient{})
		if err := storeError(del.Error); err != nil {
			return err
		}
		if del.RowsAffected == 0 {
			return models.ErrNotFound
		}
		return audit(tx, by, "service_client.delete", "service_client", id, now, nil)
	})
	if err != nil {
		return fmt.Errorf("delete service client %s: %w", id, err)
	}
	return nil
}

// Authenticate checks a service client's credentials: the secret's SHA-256 against the stored
// one, in constant time. Errors: models.ErrInvalidClient (unknown, disabled, wrong secret,
// malformed), models.ErrUnavailable when the store cannot be asked.
func (cl *Clients) Authenticate(ctx context.Context, id, secret string) error {
	raw, err := b64.DecodeString(secret)
	if !validID(id) || err != nil || len(raw) != clientSecretBytes {
		return models.ErrInvalidClient
	}
	var c models.ServiceClient
	err = cl.db.WithContext(ctx).Where("id = ?", id).Take(&c).Error
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
