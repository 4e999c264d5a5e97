package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/sessiond/sessiond/models"
)

// decodeBody runs decode on body as a request with contentType would carry it.
func decodeBody(contentType, body string, dst any) error {
	c, _ := gin.CreateTestContext(httptest.NewRecorder())
	c.Request = httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
	c.Request.Header.Set("Content-Type", contentType)
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, 64<<10)
	return decode(c, dst)
}

// fuzzDecode checks decode on one request body into a fresh T: no input panics; every
// refusal is an error the API answers with a 4xx and a stable code, never a 500; and an
// accepted body means what it says: re-encoding the decoded value and decoding that again
// gives the same value.
func fuzzDecode[T any](t *testing.T, contentType, body string) {
	var req T
	err := decodeBody(contentType, body, &req)
	if err != nil {
		var v *models.ValidationError
		if e := classify(err); e.status < 400 || e.status >= 500 || e.Code == "" ||
			!(errors.As(err, &v) || errors.Is(err, errTooLarge) || errors.Is(err, errUnsupportedMedia)) {
			t.Fatalf("decode(%q) = %v, answered %d %q; want a 4xx with a code", body, err, e.status, e.Code)
		}
		return
	}
	again, _ := json.Marshal(req)
	var round T
	if err := decodeBody("application/json", string(again), &round); err != nil || !reflect.DeepEqual(req, round) {
		t.Fatalf("decode(%q) = %+v, but its re-encoding %s decodes to %+v, %v", body, req, again, round, err)
	}
}

var decodeSeeds = []string{
	`{"email":"a@b.co","password":"correct horse battery","device":{"id":"tv-1","name":"Living room TV","type":"tv"}}`,
	`{"email":"a@b.co","password":"x","replace_session_id":"0190a000-0000-7000-8000-000000000001"}`,
	`{"email":"a@b.co","password":"long enough","display_name":"Ann"}`,
	`{}`, ``, `null`, `[]`, `"x"`, `{"email":1}`, `{"device":"tv"}`, `{"device":{"os":1}}`, `{"email":"a"}{"email":"b"}`,
	"{\"email\":\"a\xffb\"}", "{\"email\":\"\\u0000\"}", `{"email":"\ud800"}`, `{"password":` + strings.Repeat("[", 100),
	"\ufeff{}", `{"Email":"A@B.CO"}`, `{"email":"a@b.co","email":"c@d.ee"}`,
}

// FuzzDecodeLogin fuzzes the body of POST /v1/auth/login. Seeds: decodeSeeds and
// testdata/fuzz/FuzzDecodeLogin.
func FuzzDecodeLogin(f *testing.F) {
	for _, s := range decodeSeeds {
		f.Add("application/json", s)
	}
	f.Add("application/json; charset=utf-8", decodeSeeds[0])
	f.Add("text/plain", decodeSeeds[0])
	f.Fuzz(func(t *testing.T, contentType, body string) { fuzzDecode[loginRequest](t, contentType, body) })
}

// FuzzDecodeRegister fuzzes the body of POST /v1/auth/register.
func FuzzDecodeRegister(f *testing.F) {
	for _, s := range decodeSeeds {
		f.Add("application/json", s)
	}
	f.Fuzz(func(t *testing.T, contentType, body string) { fuzzDecode[registerRequest](t, contentType, body) })
}
