package apitest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/gin-gonic/gin"
)

// contract is api/openapi.yaml as the engine serves it, loaded once for a test binary and read
// only after.
type contract struct {
	doc    *openapi3.T
	router routers.Router
}

var (
	contractOnce sync.Once
	loaded       *contract
	loadErr      error
)

// loadContract reads the document h serves at GET /openapi.yaml (api/openapi.yaml, which the
// binary embeds), once: every engine serves the same one.
func loadContract(h http.Handler) (*contract, error) {
	contractOnce.Do(func() { loaded, loadErr = readContract(h) })
	return loaded, loadErr
}

func readContract(h http.Handler) (*contract, error) {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/openapi.yaml", nil))
	if rec.Code != http.StatusOK {
		return nil, fmt.Errorf("GET /openapi.yaml = %d", rec.Code)
	}
	doc, err := openapi3.NewLoader().LoadFromData(rec.Body.Bytes())
	if err != nil {
		return nil, err
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, err
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, err
	}
	// Bodies that are not JSON: the schemas say "a string"; the media type is what is checked.
	for _, mt := range []string{"text/html", "text/css", "image/svg+xml"} {
		openapi3filter.RegisterBodyDecoder(mt, openapi3filter.PlainBodyDecoder)
	}
	return &contract{doc: doc, router: router}, nil
}

// Validated serves through h and checks every answer against api/openapi.yaml with
// kin-openapi's openapi3filter: the status must be one the operation documents, the media
// type one it lists for that status, documented headers and JSON bodies must match their
// schemas, and a JSON body may hold no member the document does not name. A request that no
// documented operation matches must get a refusal. A mismatch fails the test: the document
// and the server cannot drift apart.
func Validated(t testing.TB, h http.Handler) http.Handler {
	t.Helper()
	c, err := loadContract(h)
	if err != nil {
		t.Fatalf("load api/openapi.yaml: %v", err)
	}
	return &checked{t: t, contract: c, h: h}
}

// checked is a handler whose answers are checked against the contract.
type checked struct {
	t        testing.TB
	contract *contract
	h        http.Handler
}

func (ch *checked) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Matched before serving: a handler may rewrite the URL it was given (/static/).
	asked := r.Method + " " + r.URL.String()
	route, params, findErr := ch.contract.router.FindRoute(r.Clone(r.Context()))
	rec := httptest.NewRecorder()
	ch.h.ServeHTTP(rec, r)
	if err := ch.contract.check(r, route, params, findErr, rec); err != nil {
		ch.t.Errorf("%.100s = %d %.300s\nbreaks api/openapi.yaml: %v", asked, rec.Code, rec.Body, err)
	}
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

// Routes lists the routes a handler from NewHandler serves.
func Routes(h http.Handler) gin.RoutesInfo { return h.(*checked).h.(*gin.Engine).Routes() }

func (c *contract) check(r *http.Request, route *routers.Route, params map[string]string, findErr error, rec *httptest.ResponseRecorder) error {
	if findErr != nil {
		// No operation of the document: the router's own 404 or 405, or a path the document
		// places elsewhere than Gin does (OpenAPI matches /v1/sessions/history before
		// /v1/sessions/{id}, so DELETE on it is a 405 there and DELETE /v1/sessions/{id} to
		// Gin; /static/../x is cleaned away from /static/{file}). Only a refusal will do: a
		// client error, in the error shape when it is JSON.
		if rec.Code < 400 || rec.Code >= 500 {
			return fmt.Errorf("%w, yet answered %d", findErr, rec.Code)
		}
		if !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
			return nil
		}
		var body any
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			return err
		}
		return c.doc.Components.Schemas["Error"].Value.VisitJSON(body)
	}
	opts := &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true}
	err := openapi3filter.ValidateResponse(r.Context(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route, Options: opts},
		Status:                 rec.Code,
		Header:                 rec.Header(),
		Body:                   io.NopCloser(bytes.NewReader(rec.Body.Bytes())),
		Options:                opts,
	})
	if err != nil || !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
		return err
	}
	// The schemas leave objects open (additionalProperties defaults to true): a member the
	// server sends and the document does not name would pass. It must not.
	var body any
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		return err
	}
	resp := route.Operation.Responses.Status(rec.Code).Value // there: ValidateResponse checked
	return undocumented(resp.Content.Get(rec.Header().Get("Content-Type")).Schema, body, "")
}

// undocumented reports a member of v, at any depth, that schema does not name: its own
// properties and those of its allOf, oneOf and anyOf parts count; objects whose schema names
// no properties, or allows additional ones explicitly, are free-form (error details).
func undocumented(ref *openapi3.SchemaRef, v any, at string) error {
	if ref == nil || ref.Value == nil {
		return nil
	}
	props, open := map[string]*openapi3.SchemaRef{}, false
	var items *openapi3.SchemaRef
	var collect func(s *openapi3.Schema)
	collect = func(s *openapi3.Schema) {
		for name, p := range s.Properties {
			props[name] = p
		}
		if s.AdditionalProperties.Has != nil && *s.AdditionalProperties.Has || s.AdditionalProperties.Schema != nil {
			open = true
		}
		if s.Items != nil {
			items = s.Items
		}
		for _, parts := range []openapi3.SchemaRefs{s.AllOf, s.OneOf, s.AnyOf} {
			for _, p := range parts {
				collect(p.Value)
			}
		}
	}
	collect(ref.Value)
	switch v := v.(type) {
	case map[string]any:
		if open || len(props) == 0 {
			return nil
		}
		for name, member := range v {
			p, ok := props[name]
			if !ok {
				return fmt.Errorf("%s/%s is not in the document", at, name)
			}
			if err := undocumented(p, member, at+"/"+name); err != nil {
				return err
			}
		}
	case []any:
		for i, item := range v {
			if err := undocumented(items, item, fmt.Sprintf("%s/%d", at, i)); err != nil {
				return err
			}
		}
	}
	return nil
}
