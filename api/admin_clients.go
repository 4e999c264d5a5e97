package api

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/sessiond/sessiond/models"
)

// Service clients, the callers of /v1/introspect, as an admin manages them (API.md "Admin").

// ClientService is what the admin handlers and the introspection endpoint need of
// service-client use cases.
type ClientService interface {
	Create(ctx context.Context, by models.Admin, name string) (models.ServiceClient, string, error)
	List(ctx context.Context) ([]models.ServiceClient, error)
	Delete(ctx context.Context, by models.Admin, id string) error
	Authenticate(ctx context.Context, id, secret string) error
}

type clientRequest struct {
	Name string `json:"name"`
}

type clientJSON struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Secret    string    `json:"secret,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

func (h *handler) createClient(c *gin.Context) {
	var req clientRequest
	if err := decode(c, &req); err != nil {
		h.fail(c, err)
		return
	}
	sc, secret, err := h.clients.Create(c.Request.Context(), AdminOf(c), req.Name)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, clientJSON{ID: sc.ID, Name: sc.Name, Secret: secret, CreatedAt: sc.CreatedAt.UTC()})
}

func (h *handler) listClients(c *gin.Context) {
	cs, err := h.clients.List(c.Request.Context())
	if err != nil {
		h.fail(c, err)
		return
	}
	out := make([]clientJSON, len(cs))
	for i, sc := range cs {
		out[i] = clientJSON{ID: sc.ID, Name: sc.Name, CreatedAt: sc.CreatedAt.UTC()}
	}
	c.JSON(http.StatusOK, gin.H{"service_clients": out})
}

func (h *handler) deleteClient(c *gin.Context) {
	if err := h.clients.Delete(c.Request.Context(), AdminOf(c), c.Param("id")); err != nil {
		h.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}
