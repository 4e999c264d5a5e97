package api_test

import (
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/sessiond/sessiond/api"
	"github.com/sessiond/sessiond/api/apitest"
	"github.com/sessiond/sessiond/api/web"
)

// TestOpenAPIDescribesExactlyTheRoutes checks that the served document lists the same
// method+path pairs as the engine the binary serves (the API and the pages), with every
// optional route on (/metrics is served only with Deps.Metrics): no route undocumented, none
// documented that does not exist. (That the document is valid OpenAPI: TestOpenAPIOperations.)
func TestOpenAPIDescribesExactlyTheRoutes(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	h := apitest.NewHandler(t, api.Deps{Log: log, MaxBodyBytes: 1 << 16, Metrics: http.NotFoundHandler()}, web.Deps{Log: log})
	s := apitest.Serving(t, h)
	served := s.Do("GET", "/openapi.yaml", "", "")
	doc, err := openapi3.NewLoader().LoadFromData(served.Body.Bytes())
	if served.Code != http.StatusOK || err != nil {
		t.Fatalf("GET /openapi.yaml = %d, %v", served.Code, err)
	}
	var documented []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented = append(documented, method+" "+path)
		}
	}
	param := regexp.MustCompile(`[:*](\w+)`) // :id and the catch-all *file
	var routed []string
	for _, r := range apitest.Routes(h) {
		routed = append(routed, r.Method+" "+param.ReplaceAllString(r.Path, "{$1}"))
	}
	slices.Sort(documented)
	slices.Sort(routed)
	if !slices.Equal(documented, routed) {
		t.Errorf("openapi.yaml documents\n  %s\nthe router serves\n  %s", strings.Join(documented, "\n  "), strings.Join(routed, "\n  "))
	}
	if !slices.Contains(routed, "GET /metrics") {
		t.Error("the router does not serve GET /metrics with Deps.Metrics set")
	}
}
