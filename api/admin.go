package api

import (
	"github.com/gin-gonic/gin"
	json "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/sessiond/sessiond/models"
)

// The admin routes (API.md "Admin"): their guard, and what their handlers share. Plans, users
// and service clients have a file each.

const adminKey = "sessiond.admin"

// RequireAdmin returns the middleware that lets through, after authentication, only the
// principals models.Principal.AsAdmin accepts, and keeps them for AdminOf. refuse answers the
// refusal (models.ErrForbidden) the surface's own way, and must abort.
func RequireAdmin(refuse func(*gin.Context, error)) gin.HandlerFunc {
	return func(c *gin.Context) {
		admin, err := Principal(c).AsAdmin()
		if err != nil {
			refuse(c, err)
			return
		}
		c.Set(adminKey, admin)
		c.Next()
	}
}

// AdminOf returns the admin RequireAdmin let through, for the handlers behind it only.
func AdminOf(c *gin.Context) models.Admin { return c.MustGet(adminKey).(models.Admin) }

// optional decodes a field of a partial update: absent, null, or a value.
type optional[T any] struct {
	models.Optional[T]
}

// UnmarshalJSONFrom is called only for a member that is present: null leaves Value nil (clear
// the field), anything else is decoded into it with the body's own strict options.
func (o *optional[T]) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	o.Set = true
	return json.UnmarshalDecode(dec, &o.Value)
}
