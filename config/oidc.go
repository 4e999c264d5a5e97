package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"github.com/caarlos0/env/v11"
)

// OIDCProvider is one OpenID Connect provider, from SESSIOND_OIDC_<NAME>_<FIELD>.
type OIDCProvider struct {
	Name         string   `env:"-"`
	Label        string   `env:"LABEL"` // on the sign-in button; default: the name, capitalised
	Issuer       string   `env:"ISSUER"`
	ClientID     string   `env:"CLIENT_ID"`
	ClientSecret string   `env:"CLIENT_SECRET"`
	RedirectURL  string   `env:"REDIRECT_URL"` // our …/v1/auth/oidc/<name>/callback, as registered at the provider
	Scopes       []string `env:"SCOPES" envDefault:"openid,email,profile"`
	// LinkByEmail lets a first sign-in attach to an existing account with the same email when
	// the provider asserts that the email is verified. Off by default: a provider that lets
	// people claim any address would otherwise hand over accounts.
	LinkByEmail bool `env:"LINK_BY_EMAIL" envDefault:"false"`
}

var providerName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,30}$`)

// loadOIDC reads every provider OIDCProviderNames lists, reporting each problem with the
// variable (and so the provider) it concerns.
func (c *Config) loadOIDC(getenv func(string) string) Errors {
	var errs Errors
	seen := map[string]bool{}
	for _, name := range c.OIDCProviderNames {
		name = strings.TrimSpace(name)
		if !providerName.MatchString(name) {
			errs = append(errs, &Error{Var: Prefix + "OIDC_PROVIDERS", Err: fmt.Errorf("provider name %q must be lower-case letters, digits and _ (starting with a letter)", name)})
			continue
		}
		if seen[name] {
			errs = append(errs, &Error{Var: Prefix + "OIDC_PROVIDERS", Err: fmt.Errorf("provider %q is listed twice", name)})
			continue
		}
		seen[name] = true
		prefix := Prefix + "OIDC_" + strings.ToUpper(name) + "_"
		p := OIDCProvider{Name: name}
		opts := env.Options{Prefix: prefix, Environment: map[string]string{}}
		params, err := env.GetFieldParamsWithOptions(&p, opts)
		if err != nil {
			return append(errs, &Error{Var: Prefix + "OIDC_PROVIDERS", Provider: name, Err: err}) // a mistake in OIDCProvider's tags
		}
		for _, f := range params {
			if v := getenv(f.Key); v != "" {
				opts.Environment[f.Key] = v
			}
		}
		if err := env.ParseWithOptions(&p, opts); err != nil {
			errs = append(errs, providerErrors(name, prefix, opts.Environment, err)...)
			continue
		}
		errs = append(errs, p.validate(prefix)...)
		c.OIDC = append(c.OIDC, p)
	}
	return errs
}

func (p *OIDCProvider) validate(prefix string) Errors {
	var errs Errors
	bad := func(field, format string, args ...any) {
		errs = append(errs, &Error{Var: prefix + field, Provider: p.Name, Err: fmt.Errorf(format, args...)})
	}
	if p.Label == "" {
		p.Label = strings.ToUpper(p.Name[:1]) + p.Name[1:]
	}
	if u, err := url.Parse(p.Issuer); err != nil || u.Host == "" || !(u.Scheme == "https" || u.Scheme == "http" && loopback(u.Hostname())) {
		bad("ISSUER", "must be the provider's https URL (http only on a loopback address), got %q", p.Issuer)
	}
	if p.ClientID == "" {
		bad("CLIENT_ID", "is required")
	}
	want := "/v1/auth/oidc/" + p.Name + "/callback"
	if u, err := url.Parse(p.RedirectURL); err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") || u.Path != want {
		bad("REDIRECT_URL", "must be this server's absolute URL of %s, got %q", want, p.RedirectURL)
	}
	if !slices.Contains(p.Scopes, "openid") {
		bad("SCOPES", "must include openid, got %q", strings.Join(p.Scopes, ","))
	}
	return errs
}

// providerErrors names the variable of each value of provider name that could not be parsed.
func providerErrors(name, prefix string, environment map[string]string, err error) Errors {
	var agg env.AggregateError
	if !errors.As(err, &agg) {
		return Errors{{Var: Prefix + "OIDC_PROVIDERS", Provider: name, Err: err}}
	}
	var errs Errors
	for _, e := range agg.Errors {
		key := Prefix + "OIDC_PROVIDERS"
		var pe env.ParseError
		if errors.As(e, &pe) {
			if f, ok := reflect.TypeFor[OIDCProvider]().FieldByName(pe.Name); ok {
				key = prefix + f.Tag.Get("env")
				e = fmt.Errorf("invalid value %q: %w", environment[key], pe.Err)
			}
		}
		errs = append(errs, &Error{Var: key, Provider: name, Err: e})
	}
	return errs
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
