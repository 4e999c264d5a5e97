package web

import (
	"encoding/json"
	"fmt"
	"html/template"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/mileusna/useragent"

	"github.com/sessiond/sessiond/models"
)

// How the pages put things into words: device names and types, times, durations, events.

// devicePrefill names and types the browser from its User-Agent, for the sign-in form.
func devicePrefill(ua string) (string, models.DeviceType) {
	p := useragent.Parse(ua)
	typ := models.DeviceType("web")
	switch {
	case p.Tablet:
		typ = "tablet"
	case p.Mobile:
		typ = "mobile"
	}
	switch {
	case p.Name != "" && p.OS != "":
		return p.Name + " on " + p.OS, typ
	case p.Name != "":
		return p.Name, typ
	}
	return "Web browser", typ
}

type option struct{ Value, Label string }

var deviceTypes = []option{
	{"web", "Web browser"}, {"desktop", "Computer"}, {"mobile", "Phone"}, {"tablet", "Tablet"},
	{"tv", "TV"}, {"console", "Game console"}, {"other", "Other"},
}

var policies = []option{
	{"evict_oldest", "Sign out the oldest device"},
	{"evict_least_recent", "Sign out least recently used"},
	{"reject", "Ask which device to sign out"},
}

func label(opts []option, v string) string {
	for _, o := range opts {
		if o.Value == v {
			return o.Label
		}
	}
	return v
}

// pageFuncs are the templates' functions; "ago" is added per handler (New), on its clock.
var pageFuncs = template.FuncMap{
	"deviceIcon": func(t models.DeviceType) string {
		switch t {
		case "tv", "mobile", "tablet", "web", "desktop", "console":
			return string(t)
		}
		return "other"
	},
	"deviceType":   func(t models.DeviceType) string { return label(deviceTypes, string(t)) },
	"date":         func(t any) string { return formatTime(t, "2 Jan 2006, 15:04 UTC") },
	"classLimits":  classLimits,
	"clock":        func(t time.Time) string { return t.UTC().Format("15:04 UTC") },
	"clockSeconds": func(t time.Time) string { return t.UTC().Format("15:04:05 UTC") },
	"plural":       plural,
	"duration": func(s *int64) string {
		if s == nil {
			return ""
		}
		return shortDuration(time.Duration(*s) * time.Second)
	},
	"eventText": eventText,
	"whatPlays": whatPlays,
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func formatTime(t any, layout string) string {
	switch v := t.(type) {
	case time.Time:
		return v.UTC().Format(layout)
	case *time.Time:
		if v != nil {
			return v.UTC().Format(layout)
		}
	}
	return ""
}

// ago says how long ago something happened, as people say it.
func ago(d time.Duration, t time.Time) string {
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		n := int(d / time.Minute)
		return fmt.Sprintf("%d %s ago", n, plural(n, "minute", "minutes"))
	case d < 24*time.Hour:
		n := int(d / time.Hour)
		return fmt.Sprintf("%d %s ago", n, plural(n, "hour", "hours"))
	case d < 30*24*time.Hour:
		n := int(d / (24 * time.Hour))
		return fmt.Sprintf("%d %s ago", n, plural(n, "day", "days"))
	}
	return "on " + t.UTC().Format("2 Jan 2006")
}

func humanSeconds(s int) string {
	if s < 120 {
		return fmt.Sprintf("%d %s", s, plural(s, "second", "seconds"))
	}
	return fmt.Sprintf("%d minutes", (s+59)/60)
}

// longDuration writes a duration as people say it: 24h as "24 hours", 90m as "90 minutes".
func longDuration(d time.Duration) string {
	switch {
	case d >= time.Hour && d%time.Hour == 0:
		n := int(d / time.Hour)
		return fmt.Sprintf("%d %s", n, plural(n, "hour", "hours"))
	case d >= time.Minute && d%time.Minute == 0:
		n := int(d / time.Minute)
		return fmt.Sprintf("%d %s", n, plural(n, "minute", "minutes"))
	}
	return shortDuration(d)
}

// shortDuration writes 336h0m0s as 336h and 1h30m0s as 1h30m.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

var eventTexts = map[models.EventType]string{
	models.EventLogin:           "Signed in",
	models.EventLogout:          "Signed out",
	models.EventEvicted:         "Signed out: another device signed in at the device limit",
	models.EventReplaced:        "Replaced by a new sign-in",
	models.EventExpired:         "Session expired",
	models.EventLimitRejected:   "Sign-in held: device limit reached",
	models.EventPasswordChanged: "Password changed",
}

// eventText describes a history event; a revocation says by whom or why.
func eventText(e models.SessionEvent) string {
	if e.Type == models.EventRevoked {
		var d struct {
			Reason models.RevokeReason `json:"reason"`
		}
		_ = json.Unmarshal([]byte(e.Details), &d)
		switch d.Reason {
		case models.ReasonRevokedByUser:
			return "Signed out from another device"
		case models.ReasonRevokedByAdmin:
			return "Signed out by an administrator"
		case models.ReasonPasswordChanged:
			return "Signed out: password changed"
		case models.ReasonUserDisabled:
			return "Signed out: account disabled"
		}
		return "Signed out"
	}
	if t, ok := eventTexts[e.Type]; ok {
		return t
	}
	if t, ok := streamEventText(e); ok {
		return t
	}
	return strconv.Quote(string(e.Type))
}

// capitalize writes s with a capital first letter ("standard" as "Standard").
func capitalize(s string) string {
	r, size := utf8.DecodeRuneInString(s)
	if size == 0 {
		return s
	}
	return string(unicode.ToTitle(r)) + s[size:]
}
