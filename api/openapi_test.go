package api

import (
	"context"
	"maps"
	"net/http"
	"slices"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

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
