package web

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/sessiond/sessiond/api"
	"github.com/sessiond/sessiond/models"
)

// historyData is one page of the person's session events.
type historyData struct {
	Events []models.SessionEvent
	Next   string
}

func (h *Handler) historyPage(c *gin.Context) {
	evs, next, err := h.sessions.History(c.Request.Context(), api.Principal(c).User.ID, 50, c.Query("before"))
	if err != nil {
		h.fail(c, err)
		return
	}
	h.render(c, http.StatusOK, "history", pageData{Nav: "history", Wide: true, Data: historyData{Events: evs, Next: next}})
}
