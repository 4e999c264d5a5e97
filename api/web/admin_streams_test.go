package web_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/sessiond/sessiond/api/apitest"
	"github.com/sessiond/sessiond/models"
	"github.com/sessiond/sessiond/services/servicetest"
)

// TestPagesAdminPlanStreams: the plans table edits a plan's stream limit, policy and class
// limits beside its device limit; bad values are refused with the field named, and nothing of
// the row is saved.
func TestPagesAdminPlanStreams(t *testing.T) {
	s := apitest.NewServer(t, servicetest.SQLite(t), apitest.Options{})
	admin := s.Register(t)
	s.MakeAdmin(t, admin)
	a := apitest.NewBrowser(s)
	apitest.WantRedirect(t, "admin sign-in", a.SignIn(admin, password, "Desk"), "/devices")
	apitest.WantPage(t, "GET /admin", a.Get("/admin"), 200, `name="max_streams"`, `<option value="reject" selected>Ask which stream to stop</option>`)
	var premium models.Plan
	if err := s.Store.DB.Where("name = ?", "premium").First(&premium).Error; err != nil {
		t.Fatal(err)
	}
	row := func(streams, policy, classes string) url.Values {
		return url.Values{"max_sessions": {"4"}, "limit_policy": {"evict_oldest"}, "idle_timeout": {""}, "absolute_timeout": {""},
			"max_streams": {streams}, "stream_policy": {policy}, "stream_class_limits": {classes}}
	}
	apitest.WantRedirect(t, "save premium's streams", a.Post("/admin/plans/"+premium.ID, row("3", "takeover_oldest", "live=1, audio = 2")), "/admin?done=plan_saved")
	apitest.WantPage(t, "after saving", a.Get("/admin?done=plan_saved"), 200, `value="audio=2, live=1"`, `<option value="takeover_oldest" selected>`)
	var got models.Plan
	if err := s.Store.DB.First(&got, "id = ?", premium.ID).Error; err != nil {
		t.Fatal(err)
	}
	if got.MaxStreams != 3 || got.StreamPolicy != models.StreamTakeoverOldest || got.StreamClassLimits[models.ClassLive] != 1 || got.StreamClassLimits[models.ClassAudio] != 2 {
		t.Fatalf("premium after the save = %d %s %v, want 3 takeover_oldest live=1 audio=2", got.MaxStreams, got.StreamPolicy, got.StreamClassLimits)
	}
	for _, c := range []struct {
		form url.Values
		want string
	}{
		{row("many", "reject", ""), "Streams must be a whole number"},
		{row("0", "reject", ""), "Streams must be between 1 and"},
		{row("2", "evict_oldest", ""), "At the stream limit must be reject or takeover_oldest"},
		{row("2", "reject", "sport=1"), "Limits per class unknown class"},
		{row("2", "reject", "live"), "Limits per class must read like"},
	} {
		apitest.WantPage(t, "bad stream fields "+c.form.Encode(), a.Post("/admin/plans/"+premium.ID, c.form), 400, "The premium plan was not saved", c.want)
	}
	apitest.WantRedirect(t, "clear the class limits", a.Post("/admin/plans/"+premium.ID, row("3", "takeover_oldest", "")), "/admin?done=plan_saved")
	if err := s.Store.DB.First(&got, "id = ?", premium.ID).Error; err != nil || len(got.StreamClassLimits) != 0 {
		t.Fatalf("class limits after clearing = %v (%v), want none", got.StreamClassLimits, err)
	}
}

// TestPagesHistoryStreams: the history tells what played and why each stream ended, in words
// (it showed the event codes, "stream_ended", before).
func TestPagesHistoryStreams(t *testing.T) {
	for _, store := range servicetest.Stores(t) {
		t.Run(store.Name, func(t *testing.T) {
			s := apitest.NewServer(t, store, apitest.Options{})
			email := s.Register(t)
			s.SetLimit(t, email, models.Limit{Max: 3, Policy: models.PolicyEvictOldest})
			tv, phone, laptop := apitest.NewBrowser(s), apitest.NewBrowser(s), apitest.NewBrowser(s)
			for b, name := range map[*apitest.Browser]string{tv: "Living room TV", phone: "Phone", laptop: "Laptop"} {
				apitest.WantRedirect(t, name+" signs in", b.SignIn(email, password, name), "/devices")
			}
			apitest.WantRedirect(t, "the TV plays", tv.Post("/streams/play", url.Values{"content_id": {"drama-7"}}), "/devices?done=playing")
			apitest.WantRedirect(t, "the phone plays", phone.Post("/streams/play", url.Values{"content_id": {"cup-final"}, "class": {"live"}}), "/devices?done=playing")
			apitest.WantPage(t, "the laptop at the limit", laptop.Post("/streams/play", url.Values{"content_id": {"nature-1"}}), 409, "Stop one of these streams")
			var tvStream, phoneStream models.Stream
			if err := s.Store.DB.Take(&tvStream, "device_name = ?", "Living room TV").Error; err != nil {
				t.Fatal(err)
			}
			if err := s.Store.DB.Take(&phoneStream, "device_name = ?", "Phone").Error; err != nil {
				t.Fatal(err)
			}
			apitest.WantRedirect(t, "the laptop takes the TV's place",
				laptop.Post("/streams/play", url.Values{"content_id": {"nature-1"}, "replace_stream_id": {tvStream.ID}}), "/devices?done=took_over")
			apitest.WantRedirect(t, "the laptop stops the phone's stream", laptop.Post("/devices/streams/"+phoneStream.ID+"/stop", nil), "/devices?done=stream_stopped")
			apitest.WantRedirect(t, "the laptop signs out", laptop.Post("/logout", nil), "/login?done=signed_out")
			r := tv.Get("/history")
			apitest.WantPage(t, "the history", r, 200, "Started playing drama-7", "Started playing cup-final",
				"Not played nature-1: stream limit reached", "Stream taken over by Laptop", "Stream stopped",
				"Stream ended: its device signed out")
			if strings.Contains(r.Body.String(), "&#34;stream_") {
				t.Fatalf("the history shows an event's code:\n%s", r.Body)
			}
		})
	}
}
