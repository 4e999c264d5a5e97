// Package config loads sessiond's settings from SESSIOND_* environment variables: every
// setting, its default and its validation live here, and all errors are reported at once.
//
// Load(getenv) parses each variable once, into the type the code uses: durations, a
// Database (the URL's dialect and connection string), []netip.Prefix for the trusted proxies
// (a bare address is a network of one), slog.Level, the OIDC providers of
// SESSIOND_OIDC_PROVIDERS. Nothing else re-parses a setting or holds a default of its own.
//
// Its error is Errors: one *Error per problem, naming the variable (and the identity provider
// for SESSIOND_OIDC_<NAME>_*). Callers and tests tell problems apart with errors.As and
// Error.Var, never by the text, which is for people.
//
// To add a setting: a field of Config with its env tag and envDefault, its check in validate
// (a value that cannot be parsed at all is reported once, by Load), a row in the README's
// configuration table. A type without a fitting UnmarshalText gets a parser in parsers.
package config
