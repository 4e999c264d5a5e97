package web_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/sessiond/sessiond/api/apitest"
	"github.com/sessiond/sessiond/models"
	"github.com/sessiond/sessiond/services/servicetest"
)

// streamOn returns the id of the stream playing on the named device.
func streamOn(t *testing.T, s *apitest.Server, device string) string {
	t.Helper()
	var st models.Stream
	if err := s.Store.DB.Where("device_name = ? AND ended_at IS NULL", device).Take(&st).Error; err != nil {
		t.Fatalf("the stream on %s: %v", device, err)
	}
	return st.ID
}

// TestPagesStreams: two browsers play on the standard plan (2 screens, reject); a third sees
// what each device plays, is shown the chooser when it plays too, takes the TV's place, stops
// the phone's stream; someone else's stream and hostile input are refused; an admin sees the
// user's streams and ends one.
func TestPagesStreams(t *testing.T) {
	for _, store := range servicetest.Stores(t) {
		t.Run(store.Name, func(t *testing.T) {
			s := apitest.NewServer(t, store, apitest.Options{})
			email, admin, stranger := s.Register(t), s.Register(t), s.Register(t)
			s.SetLimit(t, email, models.Limit{Max: 3, Policy: models.PolicyEvictOldest})
			s.MakeAdmin(t, admin)
			play := func(b *apitest.Browser, content, class string, extra ...string) string {
				t.Helper()
				form := url.Values{"content_id": {content}, "class": {class}}
				for i := 0; i+1 < len(extra); i += 2 {
					form.Set(extra[i], extra[i+1])
				}
				r := b.Post("/streams/play", form)
				return r.Header().Get("Location")
			}
			tv, phone, laptop := apitest.NewBrowser(s), apitest.NewBrowser(s), apitest.NewBrowser(s)
			for b, name := range map[*apitest.Browser]string{tv: "Living room TV", phone: "Phone", laptop: "Laptop"} {
				apitest.WantRedirect(t, name+" signs in", b.SignIn(email, password, name), "/devices")
			}
			if to := play(tv, "drama-7", "vod"); to != "/devices?done=playing" {
				t.Fatalf("the TV plays: redirected to %q, want /devices?done=playing", to)
			}
			if to := play(phone, "cup-final", "live"); to != "/devices?done=playing" {
				t.Fatalf("the phone plays: redirected to %q", to)
			}
			tvStream, phoneStream := streamOn(t, s, "Living room TV"), streamOn(t, s, "Phone")
			apitest.WantPage(t, "devices with two playing", laptop.Get("/devices"), 200, "Playing now: 2 of 2 screens",
				"▶ Playing drama-7", "▶ Playing cup-final (live)", `action="/devices/streams/`+tvStream+`/stop"`, "Play here")

			r := laptop.Post("/streams/play", url.Values{"content_id": {"nature-1"}})
			apitest.WantPage(t, "the chooser at the stream limit", r, 409, "Your plan plays on 2 screens at once",
				"To play <strong>nature-1</strong> on <strong>Laptop</strong>",
				`type="radio" name="replace_stream_id" value="`+tvStream+`" required`, "Living room TV", "Playing drama-7", "Playing cup-final (live)")
			if to := play(laptop, "nature-1", "", "replace_stream_id", tvStream); to != "/devices?done=took_over" {
				t.Fatalf("the laptop takes the TV's place: redirected to %q, want /devices?done=took_over", to)
			}
			var ended models.Stream
			if err := s.Store.DB.Take(&ended, "id = ?", tvStream).Error; err != nil || ended.EndReason == nil ||
				*ended.EndReason != models.StreamTakenOver || ended.EndedByDeviceName == nil || *ended.EndedByDeviceName != "Laptop" {
				t.Fatalf("the TV's stream after the takeover = %+v (%v), want taken over by Laptop", ended, err)
			}
			apitest.WantPage(t, "devices after the takeover", laptop.Get("/devices?done=took_over"), 200,
				"its device is told that this one took its place", "▶ Playing nature-1")

			apitest.WantRedirect(t, "stop the phone's stream", laptop.Post("/devices/streams/"+phoneStream+"/stop", nil), "/devices?done=stream_stopped")
			apitest.WantPage(t, "devices after the stop", laptop.Get("/devices?done=stream_stopped"), 200, "The stream was stopped", "Playing now: 1 of 2 screens")
			if strings.Contains(laptop.Get("/devices").Body.String(), "cup-final") {
				t.Fatal("the stopped stream is still shown")
			}

			// Someone else's stream is not this account's to stop; hostile input plays nothing.
			other := apitest.NewBrowser(s)
			apitest.WantRedirect(t, "stranger signs in", other.SignIn(stranger, password, "Stranger's TV"), "/devices")
			play(other, "theirs", "")
			theirs := streamOn(t, s, "Stranger's TV")
			apitest.WantRedirect(t, "stop someone else's stream", laptop.Post("/devices/streams/"+theirs+"/stop", nil), "/devices?done=stream_gone")
			apitest.WantRedirect(t, "stop an unknown stream", laptop.Post("/devices/streams/x'%3B--/stop", nil), "/devices?done=stream_gone")
			streamOn(t, s, "Stranger's TV") // still playing
			apitest.WantPage(t, "a huge content id", laptop.Post("/streams/play", url.Values{"content_id": {strings.Repeat("x", 300)}}), 400,
				"Nothing was played: What to play must be at most")
			apitest.WantPage(t, "an unknown class", laptop.Post("/streams/play", url.Values{"class": {"sport"}}), 400, "Nothing was played: Kind must be")
			laptop.Site = "cross-site"
			apitest.WantPage(t, "a play from another site", laptop.Post("/streams/play", nil), 403, "came from another site")
			laptop.Site = "same-origin"

			// The admin sees the user's streams, playing and ended, and ends one.
			a := apitest.NewBrowser(s)
			apitest.WantRedirect(t, "admin signs in", a.SignIn(admin, password, "Desk"), "/devices")
			var u models.User
			if err := s.Store.DB.Take(&u, "email = ?", email).Error; err != nil {
				t.Fatal(err)
			}
			laptopStream := streamOn(t, s, "Laptop")
			apitest.WantPage(t, "the user's admin page", a.Get("/admin/users/"+u.ID), 200, "Streams (2 at once)",
				"taken over by Laptop", "stopped", "nature-1", `action="/admin/users/`+u.ID+`/streams/`+laptopStream+`/end"`)
			apitest.WantRedirect(t, "end the laptop's stream", a.Post("/admin/users/"+u.ID+"/streams/"+laptopStream+"/end", nil),
				"/admin/users/"+u.ID+"?done=stream_ended")
			apitest.WantPage(t, "after ending", a.Get("/admin/users/"+u.ID+"?done=stream_ended"), 200, "The stream was ended", "ended by an admin")
			apitest.WantRedirect(t, "end it again", a.Post("/admin/users/"+u.ID+"/streams/"+laptopStream+"/end", nil),
				"/admin/users/"+u.ID+"?done=stream_gone")
			apitest.WantPage(t, "a user ending streams as admin", laptop.Post("/admin/users/"+u.ID+"/streams/"+laptopStream+"/end", nil), 403, "Not allowed")
		})
	}
}
