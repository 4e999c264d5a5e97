package services

import (
	"github.com/sessiond/sessiond/models"
	"github.com/sessiond/sessiond/services/store"
)

// CacheObserver keeps a session cache in step with what this process commits: the sessions
// a transaction ended, the users and plans it changed are dropped once it has committed
// (other processes hear of them through store.Listener). Its zero value, or a nil cache,
// observes nothing.
type CacheObserver struct{ Cache *store.SessionCache }

func (CacheObserver) LoginFinished(LoginOutcome)       {}
func (CacheObserver) PurgeFinished(PurgeResult, error) {}

func (o CacheObserver) SessionsEnded(_ models.RevokeReason, ids []string) {
	o.Cache.DropSessions(ids)
}

func (o CacheObserver) UsersChanged(ids []string) { o.Cache.DropUsers(ids) }
func (o CacheObserver) PlansChanged()             { o.Cache.Flush() }
