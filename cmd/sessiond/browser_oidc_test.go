package main

import (
	"net"
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/oauth2-proxy/mockoidc"
)

// TestBrowserOIDC signs a browser in through an identity provider (an in-process mockoidc):
// the sign-in page's button, the provider, the callback, the devices page.
func TestBrowserOIDC(t *testing.T) {
	chromium := newChromium(t)
	m, err := mockoidc.Run()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Server.Close() })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // the binary listens here; the provider must know the address beforehand
	base := startBinary(t, "SESSIOND_DATABASE_URL=sqlite://"+filepath.Join(t.TempDir(), "web.db"), "SESSIOND_ADDR="+addr,
		"SESSIOND_OIDC_PROVIDERS=mock", "SESSIOND_OIDC_MOCK_LABEL=Mock ID", "SESSIOND_OIDC_MOCK_ISSUER="+m.Issuer(),
		"SESSIOND_OIDC_MOCK_CLIENT_ID="+m.ClientID, "SESSIOND_OIDC_MOCK_CLIENT_SECRET="+m.ClientSecret,
		"SESSIOND_OIDC_MOCK_REDIRECT_URL=http://"+addr+"/v1/auth/oidc/mock/callback")
	m.QueueUser(&mockoidc.MockUser{Subject: "browser-person", Email: "browser-person@example.com", EmailVerified: true})
	d := newDevice(t, chromium, base, "Provider laptop")
	d.open("/login")
	d.do("continue with the provider",
		chromedp.Click(chromedp.Search(`//a[contains(., "Continue with Mock ID")]`)),
		chromedp.WaitVisible(chromedp.CSS(".usage")),
	)
	if loc := d.location(); loc != "/devices" {
		t.Fatalf("after the provider at %s, want /devices", loc)
	}
	d.wantText(".usage", "1 of 2")
	d.wantText("ul.devices", "This device")
}
