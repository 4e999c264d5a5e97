package web

import (
	"strconv"
	"time"

	"github.com/sessiond/sessiond/models"
)

// choice is the chooser at a limit (template "choice"): the sign-in chooser, the TV approval's
// and the stream chooser share its markup.
type choice struct {
	Legend   string
	Name     string // the form field: replace_session_id, replace_stream_id
	Verb     string // read before each option's name by screen readers: "Sign out", "Stop"
	Several  bool   // checkboxes: more than one must go
	Required bool   // one must be picked before the form is sent
	Options  []choiceOption
}

type choiceOption struct {
	ID         string
	Name       string
	DeviceType models.DeviceType
	Playing    string // what it plays, for a stream
	Meta       string
	Checked    bool
}

// sessionOptions lists signed-in devices to choose from, the chosen ones checked.
func sessionOptions(sessions []models.Session, chosen map[string]bool, now time.Time) []choiceOption {
	out := make([]choiceOption, 0, len(sessions))
	for _, s := range sessions {
		meta := label(deviceTypes, string(s.DeviceType))
		if s.IP != "" {
			meta += " · " + s.IP
		}
		meta += " · last active " + ago(now.Sub(s.LastSeenAt), s.LastSeenAt)
		out = append(out, choiceOption{ID: s.ID, Name: s.DeviceName, DeviceType: s.DeviceType, Meta: meta, Checked: chosen[s.ID]})
	}
	return out
}

// sessionChoice is the choice of must devices to sign out among sessions; free says there is
// room without one; now is the pages' clock.
func sessionChoice(sessions []models.Session, chosen map[string]bool, must int, free bool, now time.Time) choice {
	c := choice{Name: "replace_session_id", Verb: "Sign out", Several: must > 1, Options: sessionOptions(sessions, chosen, now)}
	c.Required = !free && !c.Several
	c.Legend = "Sign out one of these devices"
	if c.Several {
		c.Legend = "Sign out " + strconv.Itoa(must) + " of these devices"
	}
	return c
}
