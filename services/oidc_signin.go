package services

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/sessiond/sessiond/models"
)

// LoginWithIDToken signs a native client's device in with an ID token it obtained from the
// provider itself, with the same answers as Login (*models.DeviceLimitError under a reject
// plan, to be retried with the sessions to sign out and the same token). A token that signed a device
// in, here or through the browser flow, is refused afterwards (replay). Attempts count against
// the per-address login limit.
func (o *OIDC) LoginWithIDToken(ctx context.Context, name string, p models.IDTokenLogin) (models.LoginResult, error) {
	res, err := o.loginWithIDToken(ctx, name, p)
	o.cfg.Observer.LoginFinished(loginOutcome(err))
	if err != nil {
		return models.LoginResult{}, fmt.Errorf("oidc sign-in through %s: %w", name, err)
	}
	return res, nil
}

func (o *OIDC) loginWithIDToken(ctx context.Context, name string, p models.IDTokenLogin) (models.LoginResult, error) {
	prov, err := o.provider(name)
	if err != nil {
		return models.LoginResult{}, err
	}
	device, err := validateDevice(p.Device)
	if err != nil {
		return models.LoginResult{}, err
	}
	chosen, err := chosenSessions(p.ReplaceSessionID, p.ReplaceSessionIDs)
	if err != nil {
		return models.LoginResult{}, err
	}
	if p.IDToken == "" || len(p.IDToken) > 16<<10 {
		return models.LoginResult{}, models.Invalid("id_token", "is required (at most 16 KiB)")
	}
	if err := o.cfg.Throttle.allowAddress(ctx, p.IP); err != nil {
		return models.LoginResult{}, err
	}
	id, err := o.verify(ctx, prov, p.IDToken, p.Nonce)
	if err != nil {
		return models.LoginResult{}, err
	}
	return o.login(ctx, prov, id, signIn{
		device: device, deviceKey: p.DeviceKey, chosen: chosen, ip: p.IP, userAgent: p.UserAgent, spendToken: id.key,
	})
}

// signIn is how a verified person signs a device in.
type signIn struct {
	device        models.Device
	deviceKey     string   // the device's key, if any: given back when valid, else a new one
	chosen        []string // sessions to sign out to make room (chosenSessions)
	ip, userAgent string
	keepPending   bool
	spendToken    []byte // the SHA-256 of a native client's ID token, refused once it signed in
}

// login finds or creates the user of the identity and signs the device in through Sessions'
// transaction and device limit, all in one transaction. A first sign-in racing another for the
// same new identity finds, on its second try, the user the other created.
func (o *OIDC) login(ctx context.Context, prov *oidcProvider, id verified, in signIn) (res models.LoginResult, err error) {
	for attempt := 0; attempt < 2; attempt++ {
		res, err = o.loginOnce(ctx, prov, id, in)
		if !errors.Is(err, models.ErrConflict) || errors.Is(err, errTokenSpent) {
			break // only a first sign-in that lost a race to create the same user tries again
		}
	}
	return res, err
}

var errTokenSpent = fmt.Errorf("%w: %w", models.ErrConflict, &models.IDTokenError{Reason: "the ID token was already used"})

func (o *OIDC) loginOnce(ctx context.Context, prov *oidcProvider, id verified, in signIn) (models.LoginResult, error) {
	now := o.now()
	var who whom
	return o.sessions.SignIn(ctx, SignIn{
		Who: func(tx *gorm.DB) (userID string, err error) {
			who, err = o.identify(tx, prov, id, now)
			return who.userID, err
		},
		Device: in.device, IP: in.ip, UserAgent: in.userAgent, DeviceKey: in.deviceKey,
		Replace: in.chosen, KeepPending: in.keepPending,
		Check: func(tx *gorm.DB, _ models.User) (bool, error) { return o.record(tx, prov, id, who, now) },
		Then: func(tx *gorm.DB, _ models.LoginResult) error {
			// Only a token that signed a device in is spent: refused at the limit, a native
			// client may retry with the same token and a device to replace.
			used := oidcUsedToken{TokenHash: in.spendToken, ExpiresAt: id.expiry}
			if err := storeError(tx.Create(&used).Error); errors.Is(err, models.ErrConflict) {
				return errTokenSpent
			} else if err != nil {
				return err
			}
			return nil
		},
	})
}

type oidcUsedToken struct {
	TokenHash []byte `gorm:"primaryKey"`
	ExpiresAt time.Time
}

func (oidcUsedToken) TableName() string { return "oidc_used_tokens" }

// whom identify found: the user, and the linked identity (nil when there is none yet).
type whom struct {
	userID   string
	identity *models.Identity
}

// identify finds the user of the identity, reading only: the linked one; else, when the
// provider vouches for the email, the account with that email if linking by email is on for
// the provider (never an admin's, nor one whose email is unverified), or a new account when
// there is none and registration is open (created here: nobody else can hold its lock).
func (o *OIDC) identify(tx *gorm.DB, prov *oidcProvider, id verified, now time.Time) (whom, error) {
	var ident models.Identity
	err := storeError(tx.Where("issuer = ? AND subject = ?", id.issuer, id.subject).Take(&ident).Error)
	if err == nil {
		return whom{userID: ident.UserID, identity: &ident}, nil
	}
	if !errors.Is(err, models.ErrNotFound) {
		return whom{}, err
	}
	email, verr := NormalizeEmail(id.email)
	if verr != nil || !id.emailVerified {
		return whom{}, models.ErrEmailNotVerified
	}
	var user models.User
	err = storeError(tx.Where("email = ?", email).Take(&user).Error)
	switch {
	// Linking by email only to an account whose owner proved the address: otherwise whoever
	// registered it first (anyone can type an address) would keep a password into the
	// account the provider's person signs in to.
	case err == nil && (!prov.conf.LinkByEmail || user.Role == models.RoleAdmin || !user.EmailVerified):
		return whom{}, models.ErrIdentityNotLinked
	case err == nil:
		return whom{userID: user.ID}, nil
	case !errors.Is(err, models.ErrNotFound):
		return whom{}, err
	case !o.cfg.RegistrationOpen:
		return whom{}, models.ErrRegistrationClosed
	}
	user, err = o.newUser(tx, email, id.name, now)
	return whom{userID: user.ID}, err
}

// record writes the identity, under the user's lock: refreshed when known, else linked. It
// reports whether checks of the user's sessions show the change (their identities).
func (o *OIDC) record(tx *gorm.DB, prov *oidcProvider, id verified, who whom, now time.Time) (bool, error) {
	email, _ := NormalizeEmail(id.email) // "" when refused
	if who.identity != nil {
		changed := who.identity.Email != email
		err := storeError(tx.Model(who.identity).Updates(map[string]any{"last_used_at": now, "email": email}).Error)
		return changed, err
	}
	ident := models.Identity{
		ID: newID(), UserID: who.userID, Provider: prov.conf.Name, Issuer: id.issuer, Subject: id.subject,
		Email: email, CreatedAt: now, LastUsedAt: now,
	}
	return true, storeError(tx.Create(&ident).Error) // a trigger marks the user (users.has_identities)
}

// newUser creates an account for a person the provider vouches for. It has no password: it
// signs in through the provider (a password login fails like a wrong password).
func (o *OIDC) newUser(tx *gorm.DB, email, name string, now time.Time) (models.User, error) {
	name, _ = cleanText("display_name", name, MaxDisplayNameLen) // "" when refused: the account needs none
	// The provider vouched for the email (identify checked): it counts as verified.
	u := models.User{ID: newID(), Email: email, DisplayName: name, Role: models.RoleUser, EmailVerified: true, CreatedAt: now, UpdatedAt: now}
	return u, createUser(tx, &u, o.cfg.DefaultPlan)
}
