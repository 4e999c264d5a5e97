package api_test

import (
	"encoding/json"

	"github.com/sessiond/sessiond/api/apitest"
)

// password is the password of every account the harness registers.
const password = apitest.Password

// mustJSON is v as JSON text.
func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
