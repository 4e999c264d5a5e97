// Package web serves sessiond's server-rendered pages (API.md "Web pages"): html/template from
// embedded files, the cookie session, no script at all. Handlers stay as thin as the API's:
// read the form, call one service method, render or redirect (POST, then redirect, then GET).
//
// The pages and the JSON API (package api) are two surfaces over the same services, served by
// one engine behind one middleware chain: api.NewHandler registers the pages given in
// api.Deps.Pages. Each package declares the services it consumes. What both surfaces share
// comes from package api, written once: the error mapping (api.Classify, rendered here as a
// page), the cookies (api.Cookies), the CSRF guard (api.CSRF), the admin guard
// (api.RequireAdmin over models.Principal.AsAdmin) and the principal of a request.
//
// # Where things are
//
//   - web.go: Deps, New and the services the pages consume; routes.go: every page's route.
//   - session.go: the page's session (the cookie, the principal, sign-in redirects).
//   - login.go, chooser.go: signing in, and choosing a device to sign out at the limit.
//   - devices.go, history.go: a user's devices and their history; admin.go: the admin pages.
//   - oidc.go: the browser's side of signing in through an identity provider.
//   - render.go, format.go: templates, error pages, and how times and durations read.
//   - templates/, static/: the embedded HTML and stylesheet; screenshots/: the README's.
package web
