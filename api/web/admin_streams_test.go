package web_test

import (
	"net/url"
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
