package services

import (
	"time"

	"gorm.io/gorm"

	"github.com/sessiond/sessiond/models"
)

// mailNotices writes, in the login core's transaction, the notices the settings ask for
// (SESSIOND_NOTIFY_SIGNIN, SESSIOND_NOTIFY_EVICTION): "New sign-in on <device>", and for each
// session the device limit evicted, "<device> was signed out because <device> signed in". A
// sign-in that rolls back mails nothing. A replaced session (the same device signing in again)
// is no news and mails nothing.
func (s *Sessions) mailNotices(tx *gorm.DB, user models.User, res models.LoginResult, now time.Time) error {
	if s.cfg.PublicURL == nil || (!s.cfg.NotifySignIn && !s.cfg.NotifyEviction) {
		return nil
	}
	devices := mailLink(*s.cfg.PublicURL, "/devices", nil)
	if s.cfg.NotifySignIn {
		err := enqueueMail(tx, mailMessage{Kind: MailSignInNotice, To: user.Email, Now: now, Data: mailData{
			Email: user.Email, Device: res.Session.DeviceName, IP: res.Session.IP, When: now, SecurityLink: devices,
		}})
		if err != nil {
			return err
		}
	}
	if !s.cfg.NotifyEviction {
		return nil
	}
	for _, ev := range res.Evicted {
		err := enqueueMail(tx, mailMessage{Kind: MailEvictionNotice, To: user.Email, Now: now, Data: mailData{
			Email: user.Email, Device: ev.DeviceName, ByDevice: res.Session.DeviceName, IP: res.Session.IP, When: now,
			SecurityLink: devices,
		}})
		if err != nil {
			return err
		}
	}
	return nil
}
