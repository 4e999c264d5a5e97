package api

import (
	stdjson "encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	json "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

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
		if e := Classify(err); e.Status < 400 || e.Status >= 500 || e.Code == "" ||
			!(errors.As(err, &v) || errors.Is(err, errTooLarge) || errors.Is(err, errUnsupportedMedia)) {
			t.Fatalf("decode(%q) = %v, answered %d %q; want a 4xx with a code", body, err, e.Status, e.Code)
		}
		return
	}
	again, _ := stdjson.Marshal(req)
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
	// Issue 19: a name twice (also escaped, also nested), a name in another case, a null body.
	`{"EMAIL":"a@b.co"}`, `{"email":"a","\u0065mail":"b"}`, `{"device":{"name":"a","name":"b"}}`, ` null `, `{"token":"a","token":"b"}`,
	`{"max_sessions_override":1,"max_sessions_override":null}`, `{"max_sessions_override":null}`, `{"idle_timeout":null,"name":"x"}`,
	`{"role":"admin","Role":"user"}`, `{"scope":"all","scope":"others"}`, `{"id_token":"x","ID_TOKEN":"y"}`,
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

// requestBodies makes a fresh value of each type a JSON request body is decoded into.
var requestBodies = []func() any{
	func() any { return new(loginRequest) }, func() any { return new(registerRequest) },
	func() any { return new(introspectRequest) }, func() any { return new(idTokenRequest) },
	func() any { return new(passwordRequest) }, func() any { return new(revokeRequest) },
	func() any { return new(planRequest) }, func() any { return new(userPatchRequest) },
	func() any { return new(clientRequest) },
}

// FuzzDecode checks the one reading of JSON bodies, on every request body type: no input
// panics or gets anything but a 4xx with a code; a body with a name given twice in any object,
// or that is not an object (null included), is always refused; and an accepted body has no
// other reading: decoding it leniently (names in any case, the last of two names winning,
// unknown names ignored: encoding/json's ways) gives exactly the same value. Seeds:
// decodeSeeds and testdata/fuzz/FuzzDecode.
func FuzzDecode(f *testing.F) {
	for i, s := range decodeSeeds {
		f.Add(uint8(i), s)
	}
	f.Fuzz(func(t *testing.T, kind uint8, body string) {
		newBody := requestBodies[int(kind)%len(requestBodies)]
		dst := newBody()
		err := decodeBody("application/json", body, dst)
		if err != nil {
			var v *models.ValidationError
			if e := Classify(err); e.Status != http.StatusBadRequest || e.Code != "invalid_request" || !errors.As(err, &v) || len(v.Fields) != 1 {
				t.Fatalf("decode(%q) into %T = %v, answered %d %q; want 400 invalid_request naming one field", body, dst, err, e.Status, e.Code)
			}
			return
		}
		if name, ok := duplicateName(body); ok {
			t.Fatalf("decode(%q) into %T accepted the name %q given twice", body, dst, name)
		}
		if k := jsontext.Value(body).Kind(); k != '{' {
			t.Fatalf("decode(%q) into %T accepted a %v", body, dst, k)
		}
		if name, ok := unknownName([]byte(body), reflect.TypeOf(dst)); ok {
			t.Fatalf("decode(%q) into %T accepted the name %q, which no field has", body, dst, name)
		}
		lenient := newBody()
		if err := json.Unmarshal([]byte(body), lenient, jsontext.AllowDuplicateNames(true),
			json.MatchCaseInsensitiveNames(true)); err != nil || !reflect.DeepEqual(dst, lenient) {
			t.Fatalf("decode(%q) = %+v, but read leniently it is %+v, %v", body, dst, lenient, err)
		}
	})
}

// unknownName reports a member name of the object body that no field of the struct t has,
// spelled exactly, looking into members that are structs themselves (a device).
func unknownName(body []byte, t reflect.Type) (string, bool) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var members map[string]jsontext.Value
	if json.Unmarshal(body, &members) != nil {
		return "", false
	}
	fields := map[string]reflect.Type{}
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		fields[name] = t.Field(i).Type
	}
	for name, v := range members {
		ft, ok := fields[name]
		if !ok {
			return name, true
		}
		custom := reflect.PointerTo(ft).Implements(reflect.TypeFor[json.UnmarshalerFrom]()) ||
			reflect.PointerTo(ft).Implements(reflect.TypeFor[json.Unmarshaler]()) // optional, time.Time
		if ft.Kind() == reflect.Struct && !custom && v.Kind() == '{' {
			if inner, bad := unknownName(v, ft); bad {
				return name + "." + inner, true
			}
		}
	}
	return "", false
}

// duplicateName reports a member name given twice in one object of body, as far as body is
// JSON: it reads the tokens with duplicates allowed and keeps the names of each open object.
func duplicateName(body string) (string, bool) {
	dec := jsontext.NewDecoder(strings.NewReader(body), jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))
	var open []map[string]bool // per open object or array (nil)
	for {
		tok, err := dec.ReadToken()
		if err != nil {
			return "", false
		}
		switch tok.Kind() {
		case '{':
			open = append(open, map[string]bool{})
		case '[':
			open = append(open, nil)
		case '}', ']':
			open = open[:len(open)-1]
		case '"':
			// A string in an object is a name when it comes at an even position of it.
			if depth := dec.StackDepth(); len(open) > 0 && open[len(open)-1] != nil {
				if _, n := dec.StackIndex(depth); n%2 == 1 { // n counts this token already
					name := tok.String()
					if open[len(open)-1][name] {
						return name, true
					}
					open[len(open)-1][name] = true
				}
			}
		}
	}
}
