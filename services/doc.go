// Package services holds sessiond's use cases: each is one exported method, ctx first, that
// runs at most one transaction, and the device limit is enforced here, under a user-row lock.
// The store technology (opening, migrating, dialects, the hot principal read, LISTEN/NOTIFY,
// the session cache, classifying driver errors) is package services/store; nothing here opens
// a connection or reads a driver's error. Pure rules and row structs are in models.
//
// # Where things live
//
//	signin.go          the login core, Sessions.SignIn: every way in (password, OIDC, a login
//	                   held at the limit, the coming TV code and recovery) ends here
//	sessions.go        Sessions: Login, Logout, Authenticate (the check, cache first), the user lock
//	pending.go         a login held at the device limit: Held, Resume, Cancel
//	choice.go          which sessions a sign-in may name to sign out to make room
//	devices.go         a user's own devices: List, Revoke, RevokeAll, History
//	devicekeys.go      device keys: a known device skips the password throttle's delays
//	introspect.go      Sessions.Introspect, for service clients (RFC 7662)
//	clients.go         Clients: service clients (create, list, delete, authenticate)
//	users.go           Users: Register, CreateAdmin, EnsureAdmin, ChangePassword; createUser
//	admin.go           Users' admin use cases: list, update, disable, sessions, unlock
//	lastadmin.go       the rule that some enabled admin always remains
//	plans.go           Plans: create, update, delete; audit
//	enforce.go         a plan's limit applied at once to every user over it
//	oidc.go            OIDC: providers, discovery; oidc_browser.go (Start, Callback),
//	                   oidc_verify.go (the ID token's check), oidc_signin.go (native sign-in,
//	                   identify and record the identity, then the login core)
//	throttle.go        Throttle: the rate limit (allowAddress, allowLogin) and failed-login
//	                   delays and locks; ratestore.go keeps its per-address state in the store
//	password.go        Hasher: argon2id with a bounded queue; the password policy
//	email.go, text.go  the one spelling of an email, of text people read
//	token.go           session tokens: parse, secrets, constant-time comparison
//	recovery.go        Recovery: Forgot, Reset (a forgotten password); verify.go: VerifyEmail,
//	                   the resends, mailVerification (sign-up's link); mailtokens.go: the
//	                   mailed links' tokens; notices.go: the login core's optional notices
//	purge.go           Purger: expired sessions, old revocations and events, in batches
//	health.go          Health: ping, live sessions (metrics)
//	observer.go        Observer: what committed use cases report (metrics, the cache);
//	                   cacheobserver.go drops what this process committed from the cache
//	transact.go        the transaction helpers use cases compose: transact (commit, then tell
//	                   the observer; NOTIFY inside), revoke, sessionEvent, insertEvents, storeError
//	migrate.go         Migrate: the SQL migrations plus email_migration.go (a Go one)
//	clock.go, ids.go   the clock read once per use case; UUIDv7 ids
//
// # Invariants
//
// One use case, one transaction: helpers take the *gorm.DB of the transaction first and never
// begin one. Lock order is always user, then sessions: every use case that seats or revokes
// a user's sessions first locks the user's row (lockUser: FOR NO KEY UPDATE on Postgres; on
// SQLite every transaction is immediate and holds the write lock), reads the active
// sessions, decides with a pure function of models (models.Admit) and writes. Passwords are
// hashed before the transaction, never under a lock. The clock is read once per use case.
// Every store error passes through storeError (store.Translate), so a missing row is
// models.ErrNotFound, a unique violation models.ErrConflict and an unreachable store
// models.ErrUnavailable, which the API answers 503.
//
// # The cache's revocation story
//
// A cached check (Sessions.Authenticate) still checks the secret and the expiry. Whatever
// ends a session or changes a user or a plan is collected during the transaction (ended),
// sent as NOTIFY inside it (delivered only if it commits) and, once committed, reported to
// the Observer; CacheObserver drops the entries in this process, store.Listener in every
// other. While a process's listener is not connected its cache is bypassed, so a missed
// notification can never keep a revoked session alive.
package services
