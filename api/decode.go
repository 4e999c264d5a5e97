package api

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	json "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/sessiond/sessiond/models"
)

// strictJSON is how every request body is read: encoding/json/v2's strict defaults, spelled
// out so that no change of defaults can loosen them. A name given twice in one object is
// refused (under encoding/json, the last one won: {"email":"a","email":"b"} signed in b);
// names match their fields exactly, case included ("EMAIL" is not "email"); a name that no
// field has is refused; strings must be valid UTF-8.
var strictJSON = json.JoinOptions(
	jsontext.AllowDuplicateNames(false),
	jsontext.AllowInvalidUTF8(false),
	json.MatchCaseInsensitiveNames(false),
	json.RejectUnknownMembers(true),
)

// decode reads the JSON body into dst, a pointer to a struct, strictly: application/json
// only, within the body limit, exactly one JSON object (not null), and strictJSON. Errors are
// 415, 413 or a *models.ValidationError naming the offending field.
func decode(c *gin.Context, dst any) error {
	mt, _, err := mime.ParseMediaType(c.GetHeader("Content-Type"))
	if err != nil || mt != "application/json" {
		return errUnsupportedMedia
	}
	body, err := io.ReadAll(c.Request.Body) // bounded by limitBody
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return errTooLarge
	}
	if err != nil {
		return models.Invalid("body", "could not be read")
	}
	return unmarshal(body, dst)
}

// unmarshal decodes one JSON object from body into dst with strictJSON.
func unmarshal(body []byte, dst any) error {
	if len(bytes.Trim(body, " \t\r\n")) == 0 { // JSON's whitespace
		return models.Invalid("body", "is empty")
	}
	if err := json.Unmarshal(body, dst, strictJSON); err != nil {
		return decodeError(err)
	}
	// dst is a struct: anything but an object or null was refused above. A null body would
	// leave dst as it was, which is not what was meant either.
	if jsontext.Value(body).Kind() != '{' {
		return models.Invalid("body", "must be a JSON object")
	}
	return nil
}

// decodeOptional is decode for a body a request may leave out: no bytes at all (whatever the
// headers say) leave dst as it is; anything else must pass decode.
func decodeOptional(c *gin.Context, dst any) error {
	if c.Request.ContentLength == 0 {
		return nil
	}
	body, err := io.ReadAll(c.Request.Body) // bounded by limitBody
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return errTooLarge
	case err != nil:
		return models.Invalid("body", "could not be read")
	case len(body) == 0:
		return nil
	}
	c.Request.Body = io.NopCloser(bytes.NewReader(body))
	return decode(c, dst)
}

// decodeError turns the decoder's typed errors into a *models.ValidationError naming the
// member at fault by its path ("device.id").
func decodeError(err error) error {
	var (
		syntax   *jsontext.SyntacticError
		semantic *json.SemanticError
	)
	switch {
	case errors.As(err, &syntax):
		if errors.Is(syntax.Err, jsontext.ErrDuplicateName) {
			return models.Invalid(fieldName(syntax.JSONPointer), "is given more than once")
		}
	case errors.As(err, &semantic):
		field := fieldName(semantic.JSONPointer)
		switch {
		case errors.Is(semantic.Err, json.ErrUnknownName):
			return models.Invalid(field, "is not a known field (names are case-sensitive)")
		case field == "body":
			return models.Invalid(field, "must be a JSON object")
		}
		return models.Invalid(field, "must be "+jsonKind(semantic.GoType))
	}
	return models.Invalid("body", "is not valid JSON")
}

// maxFieldName bounds a member name echoed back in details.fields: it comes from the client.
const maxFieldName = 64

// fieldName renders a JSON pointer as the dotted path of details.fields ("/device/id" is
// "device.id"); the empty pointer, the whole body, is "body".
func fieldName(p jsontext.Pointer) string {
	var parts []string
	for tok := range p.Tokens() {
		parts = append(parts, tok)
	}
	if len(parts) == 0 {
		return "body"
	}
	name := strings.Join(parts, ".")
	if len(name) > maxFieldName {
		cut := maxFieldName
		for cut > 0 && !utf8.RuneStart(name[cut]) {
			cut--
		}
		name = name[:cut] + "…"
	}
	return name
}

// jsonKind says what JSON a Go type wants, for "must be …".
func jsonKind(t reflect.Type) string {
	if t == nil {
		return "of another type"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == reflect.TypeFor[time.Time]() {
		return "an RFC 3339 time"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	}
	return "a number"
}
