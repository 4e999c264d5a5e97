package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sessiond/sessiond/api/client"
	"github.com/sessiond/sessiond/services/servicetest"
)

// TestBrowserStreams is issue 22's stream pages in a real browser, on Postgres: a person on the
// standard plan (2 screens, reject) has 2 TVs playing, started through the Go client as a
// player would. The laptop's /devices shows what each plays and since when; Stop, pressed from
// the keyboard, ends that stream and its player's next heartbeat is 410 `stopped`. At the limit
// again, "Play here" shows the chooser with who watches what; stopping the phone's stream plays
// here, and the phone learns it was taken over by the laptop. The admin opens the user, sees
// the streams, ended and playing, and ends one (410 `revoked_by_admin`). Every page is checked
// at 360 px and 1920 px.
func TestBrowserStreams(t *testing.T) {
	chromium := newChromium(t)
	adminEmail, adminPassword := servicetest.Email(t), "browser admin desk"
	base := startBinary(t, "SESSIOND_DATABASE_URL="+servicetest.PostgresURL(t), "SESSIOND_COOKIE_SECURE=false",
		"SESSIOND_LOGIN_RATE_PER_IP=0", "SESSIOND_BOOTSTRAP_ADMIN_EMAIL="+adminEmail, "SESSIOND_BOOTSTRAP_ADMIN_PASSWORD="+adminPassword)
	// The client's service credentials are not sent by the stream calls: a player has none.
	player, err := client.New(base, "player", "unused")
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()

	const pw = "two screens and a laptop"
	email := servicetest.Email(t)
	if status, _, body := call(t, "POST", base+"/v1/auth/register", map[string]any{"email": email, "password": pw}); status != 201 {
		t.Fatalf("register = %d %v", status, body)
	}
	status, _, body := call(t, "POST", base+"/v1/auth/login", loginBody(adminEmail, adminPassword, "test harness"))
	if status != 201 {
		t.Fatalf("admin login = %d %v", status, body)
	}
	adm := "Bearer " + body["token"].(string)
	_, _, list := call(t, "GET", base+"/v1/admin/users?email="+email, nil, "Authorization", adm)
	userID := list["users"].([]any)[0].(map[string]any)["id"].(string)
	// Room for 4 signed-in devices: the limit under test is the stream limit, 2 on standard.
	patch := map[string]any{"max_sessions_override": 4, "limit_policy_override": "reject"}
	if status, _, body := call(t, "PATCH", base+"/v1/admin/users/"+userID, patch, "Authorization", adm); status != 200 {
		t.Fatalf("PATCH user = %d %v", status, body)
	}

	type tv struct {
		token  string
		sid    string // session
		stream client.Stream
	}
	play := func(name, typ, content, class string) tv {
		t.Helper()
		status, _, body := call(t, "POST", base+"/v1/auth/login", loginBody(email, pw, name, "device", map[string]any{"name": name, "type": typ}))
		if status != 201 {
			t.Fatalf("%s login = %d %v", name, status, body)
		}
		d := tv{token: body["token"].(string), sid: body["session"].(map[string]any)["id"].(string)}
		started, err := player.StartStream(ctx, d.token, client.StreamStart{ContentID: content, Class: class})
		if err != nil {
			t.Fatalf("%s StartStream(%s) = %v", name, content, err)
		}
		d.stream = started.Stream
		return d
	}
	// wantEnded heartbeats d's stream as its player would and wants the 410 with reason (and by).
	wantEnded := func(name string, d tv, reason, by string) {
		t.Helper()
		_, err := player.Heartbeat(ctx, d.token, d.stream.ID)
		var ended *client.StreamEndedError
		if !errors.As(err, &ended) || ended.Reason != reason || ended.ByDeviceName != by {
			t.Fatalf("%s Heartbeat() = %v, want 410 stream_ended %s (by %q)", name, err, reason, by)
		}
	}
	living, bedroom := play("Living room TV", "tv", "drama-7", ""), play("Bedroom TV", "tv", "cup-final", "live")
	if _, err := player.Heartbeat(ctx, living.token, living.stream.ID); err != nil {
		t.Fatalf("Living room TV Heartbeat() before the stop = %v, want the lease renewed", err)
	}

	laptop := newDevice(t, chromium, base, "Laptop")
	laptop.do("laptop screen", chromedp.EmulateViewport(1100, 900))
	laptop.signIn(email, pw)
	laptop.open("/devices")
	laptop.wantText("#play-heading", "Playing now: 2 of 2 screens")
	laptop.wantText("#device-"+living.sid, "Living room TV", "▶ Playing drama-7 · since "+pageClock(living.stream.StartedAt))
	laptop.wantText("#device-"+bedroom.sid, "Bedroom TV", "▶ Playing cup-final (live) · since "+pageClock(bedroom.stream.StartedAt))
	laptop.checkWidths()

	// Stop, from the keyboard: Tab reaches the TV's button and Enter presses it.
	laptop.press("stop the living room TV", `#stream-`+living.stream.ID+` button`)
	laptop.wantText(".notice", "The stream was stopped")
	laptop.wantText("#play-heading", "Playing now: 1 of 2 screens")
	if got := laptop.text("ul.devices"); strings.Contains(got, "drama-7") {
		t.Fatalf("after Stop the devices still read %q", got)
	}
	wantEnded("Living room TV", living, "stopped", "")

	// At the limit again: the phone plays too.
	phone := play("Phone", "mobile", "nature-1", "")
	laptop.open("/devices")
	laptop.wantText("#play-heading", "Playing now: 2 of 2 screens")
	laptop.wantText("#play-what", "the page plays nothing itself")
	laptop.do("play film-3 here",
		chromedp.SendKeys(chromedp.CSS("#content_id"), "film-3"),
		chromedp.Click(chromedp.CSS(`form[action="/streams/play"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`input[name=replace_stream_id]`)),
	)
	laptop.wantText("main h1", "Your plan plays on 2 screens at once")
	laptop.wantText("main .lede", "To play film-3 on Laptop, choose a stream to stop")
	laptop.wantText("fieldset", "Bedroom TV", "Playing cup-final (live)", "since "+pageClock(bedroom.stream.StartedAt),
		"Phone", "Playing nature-1", "since "+pageClock(phone.stream.StartedAt))
	if got := laptop.text("fieldset"); strings.Contains(got, "Living room TV") {
		t.Fatalf("the chooser lists the stopped stream: %q", got)
	}
	laptop.checkWidths()
	if dir := os.Getenv("SESSIOND_README_SCREENSHOTS"); dir != "" {
		laptop.screenshot(dir, "streams-chooser")
	}
	laptop.do("choose the phone's stream", chromedp.Click(chromedp.Search(`//label[contains(., "Phone")]//input[@type="radio"]`)))
	laptop.press("stop it and play here", `form[action="/streams/play"] button[type=submit]`)
	if loc := laptop.location(); loc != "/devices?done=took_over" {
		t.Fatalf("after choosing, at %s, want /devices?done=took_over", loc)
	}
	laptop.wantText(".notice", "Playing here", "its device is told that this one took its place")
	laptop.wantText("ul.devices li:has(.badge)", "Laptop", "▶ Playing film-3")
	laptop.wantText("#play-heading", "Playing now: 2 of 2 screens")
	laptop.checkWidths()
	if dir := os.Getenv("SESSIOND_README_SCREENSHOTS"); dir != "" {
		laptop.screenshot(dir, "streams-devices")
	}
	wantEnded("Phone", phone, "taken_over", "Laptop")
	_, _, mine := call(t, "GET", base+"/v1/streams", nil, "Authorization", "Bearer "+bedroom.token)
	if got := streamDevices(mine); got != "Bedroom TV cup-final, Laptop film-3" {
		t.Fatalf("GET /v1/streams after playing here = %q (%v), want the Bedroom TV and the Laptop", got, mine)
	}
	// The page says until when the screen is held without a player: the lease's end (the
	// check above made sure the laptop's stream is listed).
	var here map[string]any
	for _, st := range mine["streams"].([]any) {
		if st := st.(map[string]any); st["content_id"] == "film-3" {
			here = st
		}
	}
	until, err := time.Parse(time.RFC3339, here["expires_at"].(string))
	if err != nil {
		t.Fatal(err)
	}
	laptop.wantText("ul.devices li:has(.badge) .lease", "Held for this browser until "+until.UTC().Format("15:04:05 UTC"), "a player in this browser, on this sign-in")
	// What the page says keeps it: a player on this sign-in, from this origin, heartbeats with
	// the browser's cookie; from another origin the CSRF rule refuses it.
	beat, cookie := base+"/v1/streams/"+here["id"].(string)+"/heartbeat", "sessiond="+laptop.cookies()["sessiond"]
	status, _, body = call(t, "POST", beat, nil, "Cookie", cookie, "Origin", "https://player.example")
	if e, _ := body["error"].(map[string]any); status != 403 || e["code"] != "csrf_failed" {
		t.Fatalf("cross-origin cookie heartbeat = %d %v, want 403 csrf_failed", status, body)
	}
	if status, _, body := call(t, "POST", beat, nil, "Cookie", cookie, "Origin", base); status != 200 {
		t.Fatalf("same-origin cookie heartbeat of the page's stream = %d %v, want 200", status, body)
	}

	// The admin ends the Bedroom TV's stream from the user's page.
	admin := newDevice(t, chromium, base, "Admin desk")
	admin.do("wide screen", chromedp.EmulateViewport(1920, 1080))
	admin.signIn(adminEmail, adminPassword)
	admin.open("/admin?email=" + email)
	admin.do("open the user", chromedp.Click(chromedp.CSS(`ul.devices a`)), chromedp.WaitVisible(chromedp.CSS("h2#streams")))
	admin.wantText("h2#streams", "Streams (2 at once)")
	admin.wantText("#stream-"+bedroom.stream.ID, "Bedroom TV", "cup-final (live)", "playing · lease until")
	admin.wantText("#stream-"+phone.stream.ID, "Phone", "nature-1", "taken over by Laptop")
	admin.wantText("#stream-"+living.stream.ID, "Living room TV", "drama-7", "stopped")
	admin.checkWidths()
	admin.press("end the Bedroom TV's stream", `#stream-`+bedroom.stream.ID+` button.danger`)
	admin.wantText(".notice", "The stream was ended")
	admin.wantText("#stream-"+bedroom.stream.ID, "ended by an admin")
	if n, err := chromedp.Run(admin.ctx, chromedp.Evaluate[int](`document.querySelectorAll('#stream-`+bedroom.stream.ID+` button').length`)); err != nil || n != 0 {
		t.Fatalf("End buttons on the ended stream's row = %d (%v), want none", n, err)
	}
	if dir := os.Getenv("SESSIOND_README_SCREENSHOTS"); dir != "" {
		admin.do("laptop screen", chromedp.EmulateViewport(1280, 900))
		admin.screenshot(dir, "admin-streams")
	}
	wantEnded("Bedroom TV", bedroom, "revoked_by_admin", "")
	// The history says what played and why it ended, in words.
	admin.wantText("#history + .table-wrap", "Stream ended by an admin", "Stream taken over by Laptop", "Stream stopped",
		"Started playing film-3", "Not played film-3: stream limit reached")
	laptop.open("/history")
	laptop.wantText("table", "Stream ended by an admin", "Started playing drama-7")
	if got := laptop.text("table"); strings.Contains(got, `"stream_`) {
		t.Fatalf("the history shows an event's code instead of words: %q", got)
	}
	_, _, mine = call(t, "GET", base+"/v1/admin/users/"+userID+"/streams", nil, "Authorization", adm)
	if got := streamDevices(mine); got != "Laptop film-3" {
		t.Fatalf("the user's playing streams after the admin ended one = %q (%v), want the Laptop's only", got, mine)
	}
}

// pageClock writes a time as the stream pages do.
func pageClock(t time.Time) string { return t.UTC().Format("15:04 UTC") }

// streamDevices lists an answer's unended streams as "device content", sorted by device.
func streamDevices(body map[string]any) string {
	var out []string
	ss, _ := body["streams"].([]any)
	for _, s := range ss {
		s := s.(map[string]any)
		if s["ended_at"] != nil {
			continue
		}
		out = append(out, fmt.Sprint(s["device"].(map[string]any)["name"], " ", s["content_id"]))
	}
	slices.Sort(out)
	return strings.Join(out, ", ")
}

// press reaches the button matching css with Tab from the top of the page, as a keyboard user
// would, presses Enter and waits for the next page. It fails when 60 Tabs never focus it.
func (d *device) press(what, css string) {
	d.t.Helper()
	ctx, cancel := context.WithTimeout(d.ctx, 20*time.Second)
	defer cancel()
	focused := `document.activeElement && document.activeElement.matches(` + fmt.Sprintf("%q", css) + `)`
	// From the top: the skip link is the first stop (browserAccessible checks that).
	if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`document.querySelector('a.skip').focus()`)); err != nil {
		d.t.Fatalf("%s: %s: %v", d.name, what, err)
	}
	for i := 0; ; i++ {
		if i == 60 {
			d.t.Fatalf("%s: %s: 60 Tabs never focused %s", d.name, what, css)
		}
		if err := chromedp.Do(ctx, chromedp.KeyEvent("\t")); err != nil {
			d.t.Fatalf("%s: %s: Tab: %v", d.name, what, err)
		}
		if ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](focused)); err != nil {
			d.t.Fatalf("%s: %s: %v", d.name, what, err)
		} else if ok {
			break
		}
	}
	d.do(what, chromedp.Evaluate[chromedp.Void](`document.body.dataset.left = "1"`), chromedp.KeyEvent("\r"),
		chromedp.WaitNotPresent(chromedp.CSS(`body[data-left]`)), chromedp.WaitVisible(chromedp.CSS("main h1")))
}

// checkWidths checks the page (labels, controls) on a 360 px phone and a 1920 px screen, and
// returns to the device's own width.
func (d *device) checkWidths() {
	d.t.Helper()
	w, err := chromedp.Run(d.ctx, chromedp.Evaluate[int](`window.innerWidth`))
	if err != nil {
		d.t.Fatalf("%s: width: %v", d.name, err)
	}
	for _, width := range []int64{360, 1920} {
		d.do(fmt.Sprint(width, " px"), chromedp.EmulateViewport(width, 900))
		d.checkPage()
		d.checkControls()
	}
	d.do("back to its width", chromedp.EmulateViewport(int64(w), 900))
}
