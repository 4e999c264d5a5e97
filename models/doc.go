// Package models holds sessiond's domain: the rows it stores, the pure rules that decide
// who may sign in, and the errors every layer shares. It imports nothing of ours.
//
// # Rules without side effects
//
// Admit is the device-limit rule: given a user's active sessions, the new device, the sessions
// the user chose to sign out and the effective Limit (User.EffectiveLimit: the user's
// override, unless lapsed, else the plan's), it says which sessions end, or returns a
// *DeviceLimitError. The services call it inside the transaction that holds the user's row
// lock, so what it decides is what commits; here it is tested with plain tables.
//
// # Errors
//
// Sentinels (ErrNotFound, ErrInvalidCredentials, …) and typed errors (*DeviceLimitError,
// *ValidationError, *RateLimitedError, …) are what every layer wraps and api.Classify maps to
// a status and a stable code. Nothing matches on their text.
//
// # Rows and migrations
//
// The row structs carry gorm tags only; the JSON shapes live in api. The migrations are
// embedded from migrations/postgres and migrations/sqlite (goose-style 000NN_name.sql, one
// number per change, the same number in both dialects).
package models
