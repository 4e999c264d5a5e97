package apitest

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// Browser is a cookie-keeping client of the pages (the real browser tests are in
// cmd/sessiond; this one pins the HTTP behaviour: statuses, redirects, cookies, refusals).
type Browser struct {
	Cookies map[string]string // name → value, as the answers set them
	Site    string            // Sec-Fetch-Site sent with posts: "same-origin" unless a test says otherwise
	s       *Server
}

// NewBrowser returns a browser of s's pages with no cookies.
func NewBrowser(s *Server) *Browser {
	return &Browser{s: s, Cookies: map[string]string{}, Site: "same-origin"}
}

// Request sends a request with the browser's cookies, a form as the body of a POST, and keeps
// the cookies the answer sets (and forgets them all at Clear-Site-Data: "cookies").
func (b *Browser) Request(method, path string, form url.Values) *httptest.ResponseRecorder {
	b.s.t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(form.Encode()))
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", b.Site)
	}
	req.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0.0.0 Safari/537.36")
	for k, v := range b.Cookies {
		req.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	rec := httptest.NewRecorder()
	b.s.Handler.ServeHTTP(rec, req)
	if strings.Contains(rec.Header().Get("Clear-Site-Data"), `"cookies"`) {
		clear(b.Cookies) // as browsers do: every cookie of the site
	}
	for _, c := range rec.Result().Cookies() {
		if c.MaxAge < 0 {
			delete(b.Cookies, c.Name)
		} else {
			b.Cookies[c.Name] = c.Value
		}
	}
	return rec
}

// Get loads a page.
func (b *Browser) Get(path string) *httptest.ResponseRecorder { return b.Request("GET", path, nil) }

// Post submits a form.
func (b *Browser) Post(path string, form url.Values) *httptest.ResponseRecorder {
	return b.Request("POST", path, form)
}

// SignIn posts the sign-in form and returns the answer.
func (b *Browser) SignIn(email, password, device string) *httptest.ResponseRecorder {
	return b.Post("/login", url.Values{"email": {email}, "password": {password}, "device_name": {device}, "device_type": {"web"}})
}

// WantPage fails the test unless r is an HTML page with status that contains every one of
// contains.
func WantPage(t testing.TB, what string, r *httptest.ResponseRecorder, status int, contains ...string) {
	t.Helper()
	if r.Code != status || !strings.HasPrefix(r.Header().Get("Content-Type"), "text/html") {
		t.Fatalf("%s = %d %s, want %d text/html", what, r.Code, r.Header().Get("Content-Type"), status)
	}
	for _, c := range contains {
		if !strings.Contains(r.Body.String(), c) {
			t.Fatalf("%s: the page does not contain %q:\n%s", what, c, r.Body)
		}
	}
}

// WantRedirect fails the test unless r is a 303 to location.
func WantRedirect(t testing.TB, what string, r *httptest.ResponseRecorder, location string) {
	t.Helper()
	if r.Code != http.StatusSeeOther || r.Header().Get("Location") != location {
		t.Fatalf("%s = %d to %q, want 303 to %q (%s)", what, r.Code, r.Header().Get("Location"), location, r.Body)
	}
}
