// Command tv is a "TV" in a terminal that signs in to sessiond with a code, the way a TV app
// does (RFC 8628's device authorization grant): through golang.org/x/oauth2's device flow,
// unchanged, with no client of sessiond's own. It prints the code and a QR code of the link
// that carries it, waits while someone approves it on their phone, then shows whoami.
//
//	go run ./cmd/tv -url http://localhost:8080 -name "Living room TV"
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"golang.org/x/oauth2"
	"rsc.io/qr"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, http.DefaultClient); err != nil {
		fmt.Fprintln(os.Stderr, "tv:", err)
		os.Exit(1)
	}
}

// run signs in and prints what it does to out, using hc for every request.
func run(ctx context.Context, args []string, out io.Writer, hc *http.Client) error {
	fs := flag.NewFlagSet("tv", flag.ContinueOnError)
	base := fs.String("url", "http://localhost:8080", "sessiond's address")
	name := fs.String("name", "Terminal TV", "the name the phone shows")
	clientID := fs.String("client-id", "sessiond-terminal-tv", "the app's client_id (recorded, not secret)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg := &oauth2.Config{ClientID: *clientID, Endpoint: oauth2.Endpoint{
		DeviceAuthURL: *base + "/v1/auth/device/code", TokenURL: *base + "/v1/auth/device/token",
	}}
	ctx = context.WithValue(ctx, oauth2.HTTPClient, hc)
	da, err := cfg.DeviceAuth(ctx, oauth2.SetAuthURLParam("device_name", *name), oauth2.SetAuthURLParam("device_type", "tv"))
	if err != nil {
		return fmt.Errorf("ask for a code: %w", err)
	}
	fmt.Fprintf(out, "On your phone, open %s and enter\n\n    %s\n\nor scan:\n\n", da.VerificationURI, da.UserCode)
	if err := printQR(out, da.VerificationURIComplete); err != nil {
		return err
	}
	fmt.Fprintln(out, "\nWaiting for approval…")
	tok, err := cfg.DeviceAccessToken(ctx, da)
	if err != nil {
		return fmt.Errorf("wait for approval: %w", err)
	}
	return whoami(ctx, out, hc, *base, tok)
}

// whoami shows who the TV is signed in as, with the token the library returned.
func whoami(ctx context.Context, out io.Writer, hc *http.Client, base string, tok *oauth2.Token) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/auth/session", nil)
	if err != nil {
		return err
	}
	tok.SetAuthHeader(req)
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("whoami: %w", err)
	}
	defer resp.Body.Close()
	var who struct {
		Session struct {
			Device struct{ Name string } `json:"device"`
		} `json:"session"`
		User struct{ Email string } `json:"user"`
		Plan struct {
			Name        string `json:"name"`
			MaxSessions int    `json:"max_sessions"`
		} `json:"plan"`
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("whoami: %s", resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&who); err != nil {
		return fmt.Errorf("read whoami: %w", err)
	}
	fmt.Fprintf(out, "Signed in as %s on %q (plan %s, %d devices)\n", who.User.Email, who.Session.Device.Name, who.Plan.Name, who.Plan.MaxSessions)
	return nil
}

// printQR draws text's QR code with half blocks, two rows of modules per line, dark on a
// light quiet zone, so that phones read it from a dark or a light terminal alike.
func printQR(out io.Writer, text string) error {
	code, err := qr.Encode(text, qr.M)
	if err != nil {
		return fmt.Errorf("qr code: %w", err)
	}
	const quiet = 2
	dark := func(x, y int) bool { return code.Black(x-quiet, y-quiet) }
	side := code.Size + 2*quiet
	var b strings.Builder
	for y := 0; y < side; y += 2 {
		b.WriteString("\x1b[47;30m") // light background, dark foreground
		for x := range side {
			switch top, bottom := dark(x, y), y+1 < side && dark(x, y+1); {
			case top && bottom:
				b.WriteString("█")
			case top:
				b.WriteString("▀")
			case bottom:
				b.WriteString("▄")
			default:
				b.WriteString(" ")
			}
		}
		b.WriteString("\x1b[0m\n")
	}
	_, err = io.WriteString(out, b.String())
	return err
}
