package api

import (
	"context"
	"log/slog"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/gin-gonic/gin"
)

// TestOpenAPIDescribesExactlyTheRoutes checks that the served document is valid OpenAPI and
// lists the same method+path pairs as the router with every optional route on (/metrics is
// served only with Deps.Metrics): no route undocumented, none documented that does not exist.
func TestOpenAPIDescribesExactlyTheRoutes(t *testing.T) {
	gin.SetMode(gin.ReleaseMode)
	doc := loadOpenAPI(t)
	var documented []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented = append(documented, method+" "+path)
		}
	}
	h, err := NewHandler(Deps{Log: slog.New(slog.DiscardHandler), MaxBodyBytes: 1 << 16, Metrics: http.NotFoundHandler()})
	if err != nil {
		t.Fatal(err)
	}
	param := regexp.MustCompile(`[:*](\w+)`) // :id and the catch-all *file
	var routed []string
	for _, r := range h.(*gin.Engine).Routes() {
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

// TestOpenAPIOperations checks what generated clients and readers rely on: every operation
// has a unique operationId, and every operation that is not a browser redirect has a 2xx
// answer. (redocly's operation-2xx-response is off for the web and OIDC browser routes, which
// answer 303 by design: api/redocly.yaml. This keeps the rule for the rest.)
func TestOpenAPIOperations(t *testing.T) {
	doc := loadOpenAPI(t)
	seen := map[string]string{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			where := method + " " + path
			if op.OperationID == "" {
				t.Errorf("%s has no operationId", where)
			} else if other, dup := seen[op.OperationID]; dup {
				t.Errorf("%s and %s share the operationId %q", where, other, op.OperationID)
			}
			seen[op.OperationID] = where
			browser := slices.Contains(op.Tags, "web") || slices.Contains(op.Tags, "oidc") && method == http.MethodGet
			has2xx := slices.ContainsFunc(slices.Collect(maps.Keys(op.Responses.Map())), func(s string) bool { return s[0] == '2' })
			if !browser && !has2xx {
				t.Errorf("%s has no 2xx response", where)
			}
		}
	}
}

func loadOpenAPI(t *testing.T) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(openapiYAML)
	if err != nil {
		t.Fatalf("load openapi.yaml: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("openapi.yaml is invalid: %v", err)
	}
	return doc
}
