// Package api is sessiond's JSON API (API.md): Gin handlers that decode, call one service
// method, and render the result or the error. It declares the services it consumes.
//
// NewHandler builds the one engine the binary serves: the middleware chain, every route of the
// API, and the server-rendered pages of package web, handed in as Deps.Pages (api never
// imports web). What the pages share with the API is exported here and written once: the
// error mapping (Classify), the cookies (Cookies), the CSRF guard (CSRF), the admin guard
// (RequireAdmin) and the request's principal.
//
// # Where things are
//
//   - routes.go: Deps, NewHandler, the middleware chain and every route in one block.
//   - One file per resource: auth.go (register, login, logout, the session), sessions.go (a
//     user's devices and history), admin*.go (plans, users, service clients), introspect.go
//     (other services' token checks), oidc.go (identity providers' JSON side).
//   - errors.go: the error catalogue: Classify maps every domain error to a status and a stable
//     code (API.md), in one place; unknown errors are 500 internal, logged once.
//   - middleware.go: request ids, the access log, security headers, the body limit, the client
//     address (X-Forwarded-For only from Deps.TrustedProxies), /healthz and /readyz.
//   - csrf.go: the one CSRF guard of the API and the pages; cookies.go: every cookie's name
//     and attributes; token.go: reading a bearer token or the session cookie.
//   - decode.go: the strict JSON decoder (unknown fields, trailing data and oversized bodies
//     are 400 or 413, never a partial write); dto.go: the JSON shapes.
//   - openapi.yaml: the contract, served at GET /openapi.yaml. Tests compare its routes with
//     the router's and validate every answer the api tests get against it (apitest), so the
//     document and the server cannot drift apart; redocly.yaml configures its lint.
//
// Subpackages: apitest (the real engine over real services for tests, every answer checked
// against the contract) and client (a Go client of /v1/introspect and its Gin middleware).
package api
