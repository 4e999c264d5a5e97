package config

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// Database is SESSIOND_DATABASE_URL, parsed once when the configuration is loaded:
// sqlite://PATH or postgres://… (postgresql:// too).
type Database struct {
	Dialect string // "postgres" or "sqlite"
	DSN     string // a pgx connection string, or the SQLite file path
}

// Dialects of Database.
const (
	Postgres = "postgres"
	SQLite   = "sqlite"
)

// UnmarshalText parses a database URL.
func (d *Database) UnmarshalText(text []byte) error {
	u := string(text)
	if path, ok := strings.CutPrefix(u, "sqlite://"); ok {
		if path == "" {
			return errors.New("sqlite:// needs a file path, e.g. sqlite://./sessiond.db")
		}
		*d = Database{Dialect: SQLite, DSN: path}
		return nil
	}
	if strings.HasPrefix(u, "postgres://") || strings.HasPrefix(u, "postgresql://") {
		*d = Database{Dialect: Postgres, DSN: u}
		return nil
	}
	return errors.New("must start with sqlite:// or postgres://")
}

// parsePrefixes reads a comma-separated list of CIDRs and IP addresses; a bare address is
// a network of one (/32 or /128). Every bad entry is named.
func parsePrefixes(list string) (any, error) {
	var out []netip.Prefix
	var bad []string
	for _, s := range strings.Split(list, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		p, err := parsePrefix(s)
		if err != nil {
			bad = append(bad, fmt.Sprintf("%q", s))
			continue
		}
		out = append(out, p)
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("%s: neither an IP address nor a CIDR", strings.Join(bad, ", "))
	}
	return out, nil
}

func parsePrefix(s string) (netip.Prefix, error) {
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("parse address: %w", err)
		}
		if a.Zone() != "" {
			return netip.Prefix{}, errors.New("parse address: a zone is not an address")
		}
		a = a.Unmap() // ::ffff:192.0.2.7 is 192.0.2.7, as peers' addresses are compared
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("parse prefix: %w", err)
	}
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p.Masked(), nil
}
