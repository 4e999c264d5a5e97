package services

// TEMPORARY: the login core's public shape as the lead lands it on main (services/signin.go);
// this file goes at the merge.

import (
	"context"

	"gorm.io/gorm"

	"github.com/sessiond/sessiond/models"
)

type SignIn struct {
	UserID                   string
	Who                      func(tx *gorm.DB) (string, error)
	Device                   models.Device
	IP, UserAgent, DeviceKey string
	Replace                  []string
	KeepPending              bool
	Method                   string
	Check                    func(tx *gorm.DB, user models.User) (userChanged bool, err error)
	Refused                  func(tx *gorm.DB, limit *models.DeviceLimitError) error
	Then                     func(tx *gorm.DB, res models.LoginResult) error
}

func (s *Sessions) SignIn(ctx context.Context, in SignIn) (models.LoginResult, error) {
	device, err := validateDevice(in.Device)
	if err != nil {
		return models.LoginResult{}, err
	}
	chosen, err := chosenSessions("", in.Replace)
	if err != nil {
		return models.LoginResult{}, err
	}
	now := s.now()
	var (
		res      models.LoginResult
		limitErr *models.DeviceLimitError
	)
	err = transact(ctx, s.db, s.cfg.Observer, func(tx *gorm.DB, out *ended) error {
		locked, err := lockUser(tx, in.UserID)
		if err != nil {
			return err
		}
		if locked.Disabled() {
			return models.ErrInvalidCredentials
		}
		if in.Check != nil {
			if _, err := in.Check(tx, locked); err != nil {
				return err
			}
		}
		sess, token, err := s.newSession(locked.ID, device, models.LoginParams{IP: in.IP, UserAgent: in.UserAgent}, now)
		if err != nil {
			return err
		}
		res, limitErr, err = s.admit(tx, out, locked, admission{sess: sess, token: token, deviceKey: in.DeviceKey, chosen: chosen}, now)
		switch {
		case err != nil:
			return err
		case limitErr != nil && in.Refused != nil:
			return in.Refused(tx, limitErr)
		case limitErr == nil && in.Then != nil:
			return in.Then(tx, res)
		}
		return nil
	})
	if err == nil && limitErr != nil {
		err = limitErr
	}
	return res, err
}
