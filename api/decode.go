package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/sessiond/sessiond/models"
)

// decode reads the JSON body into dst strictly: application/json only, within the body limit,
// valid UTF-8, no unknown fields, exactly one value. Errors name the offending field.
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
	if !utf8.Valid(body) {
		return models.Invalid("body", "is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return decodeError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return models.Invalid("body", "must hold exactly one JSON object")
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

func decodeError(err error) error {
	var (
		syntax   *json.SyntaxError
		typeErr  *json.UnmarshalTypeError
		fieldErr = "json: unknown field "
	)
	switch {
	case errors.Is(err, io.EOF):
		return models.Invalid("body", "is empty")
	case errors.As(err, &syntax), errors.Is(err, io.ErrUnexpectedEOF):
		return models.Invalid("body", "is not valid JSON")
	case errors.As(err, &typeErr):
		if typeErr.Field == "" {
			return models.Invalid("body", "must be a JSON object")
		}
		return models.Invalid(typeErr.Field, fmt.Sprintf("must be %s", jsonKind(typeErr.Type.Kind().String())))
	case strings.HasPrefix(err.Error(), fieldErr):
		return models.Invalid(strings.Trim(strings.TrimPrefix(err.Error(), fieldErr), `"`), "is not a known field")
	}
	return models.Invalid("body", "is not valid JSON")
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "struct", "map":
		return "an object"
	case "slice":
		return "an array"
	}
	return "a number"
}
