package api

import (
	"context"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/gin-gonic/gin"
)

// TestOpenAPIDescribesExactlyTheRoutes checks that the served document is valid OpenAPI and
// lists the same method+path pairs as the router: no route undocumented, none documented
// that does not exist.
func TestOpenAPIDescribesExactlyTheRoutes(t *testing.T) {
	gin.SetMode(gin.ReleaseMode)
	doc, err := openapi3.NewLoader().LoadFromData(openapiYAML)
	if err != nil {
		t.Fatalf("load openapi.yaml: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("openapi.yaml is invalid: %v", err)
	}
	var documented []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented = append(documented, method+" "+path)
		}
	}
	h, err := NewHandler(Deps{Log: slog.New(slog.DiscardHandler), MaxBodyBytes: 1 << 16})
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
}
