package apitest

import (
	"context"

	"github.com/sessiond/sessiond/models"
)

// FakeSessions fails every call with Err (Authenticate, with no error, names an empty
// principal): for tests of the HTTP mapping alone. It serves the API and the pages.
type FakeSessions struct{ Err error }

// Login fails with Err.
func (f FakeSessions) Login(context.Context, models.LoginParams) (models.LoginResult, error) {
	return models.LoginResult{}, f.Err
}

// Authenticate fails with Err, or names an empty principal.
func (f FakeSessions) Authenticate(context.Context, string) (*models.Principal, error) {
	if f.Err != nil {
		return nil, f.Err
	}
	return &models.Principal{}, nil
}

// Logout fails with Err.
func (f FakeSessions) Logout(context.Context, string, string) error { return f.Err }

// List fails with Err.
func (f FakeSessions) List(context.Context, string) (models.DeviceList, error) {
	return models.DeviceList{}, f.Err
}

// Revoke fails with Err.
func (f FakeSessions) Revoke(context.Context, string, string, string, string) error { return f.Err }

// RevokeAll fails with Err.
func (f FakeSessions) RevokeAll(context.Context, string, string, string, models.RevokeScope) (int, error) {
	return 0, f.Err
}

// Introspect fails with Err.
func (f FakeSessions) Introspect(context.Context, string) (models.Introspection, error) {
	return models.Introspection{}, f.Err
}

// History fails with Err.
func (f FakeSessions) History(context.Context, string, int, string) ([]models.SessionEvent, string, error) {
	return nil, "", f.Err
}

// Held fails with Err.
func (f FakeSessions) Held(context.Context, string) (models.HeldLogin, error) {
	return models.HeldLogin{}, f.Err
}

// Resume fails with Err.
func (f FakeSessions) Resume(context.Context, string, []string, string) (models.LoginResult, error) {
	return models.LoginResult{}, f.Err
}

// Cancel fails with Err.
func (f FakeSessions) Cancel(context.Context, string) error { return f.Err }

// FakePinger answers every ping with Err.
type FakePinger struct{ Err error }

// Ping returns Err.
func (f FakePinger) Ping(context.Context) error { return f.Err }
