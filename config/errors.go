package config

import (
	"slices"
	"strings"
)

// Error is a problem with one setting. Var is the environment variable it concerns; for a
// setting of an identity provider, Provider names it too. Callers tell problems apart by Var
// (errors.As), never by the text.
type Error struct {
	Var      string
	Provider string // the OIDC provider, for SESSIOND_OIDC_<NAME>_* and its name in SESSIOND_OIDC_PROVIDERS
	Err      error
}

func (e *Error) Error() string {
	if e.Provider != "" {
		return "oidc provider " + e.Provider + ": " + e.Var + ": " + e.Err.Error()
	}
	return e.Var + ": " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// Errors is every problem Load found, in the order found: Load reports them all at once, so
// an operator fixes a configuration in one go.
type Errors []*Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return "config: " + strings.Join(lines, "\n")
}

// Unwrap returns the problems, so errors.As finds each *Error.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// Vars returns the variables the problems concern, each once, in the order found.
func (es Errors) Vars() []string {
	var vars []string
	for _, e := range es {
		if !slices.Contains(vars, e.Var) {
			vars = append(vars, e.Var)
		}
	}
	return vars
}
