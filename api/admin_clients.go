package api

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
)

// Service clients, the callers of /v1/introspect, as an admin manages them (API.md "Admin").

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
	sc, secret, err := h.admin.CreateClient(c.Request.Context(), AdminOf(c), req.Name)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, clientJSON{ID: sc.ID, Name: sc.Name, Secret: secret, CreatedAt: sc.CreatedAt.UTC()})
}

func (h *handler) listClients(c *gin.Context) {
	cs, err := h.admin.Clients(c.Request.Context())
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
	if err := h.admin.DeleteClient(c.Request.Context(), AdminOf(c), c.Param("id")); err != nil {
		h.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}
