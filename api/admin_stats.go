package api

import (
	"context"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/sessiond/sessiond/models"
)

// Insights for admins setting plan limits (API.md "Admin", GET /v1/admin/stats).

// StatsService is what the insights handler needs.
type StatsService interface {
	Get(ctx context.Context, days int) (models.Stats, error)
}

type planStatsJSON struct {
	PlanID             string `json:"plan_id"`
	Name               string `json:"name"`
	Users              int64  `json:"users"`
	ActiveSessions     int64  `json:"active_sessions"`
	ActiveStreams      int64  `json:"active_streams"`
	UsersAtDeviceLimit int64  `json:"users_at_device_limit"`
	UsersAtStreamLimit int64  `json:"users_at_stream_limit"`
	MaxSessions        int    `json:"max_sessions"`
	MaxStreams         int    `json:"max_streams"`
	Evictions          int64  `json:"evictions"`
	LimitRejections    int64  `json:"limit_rejections"`
}

type dayStatsJSON struct {
	Date             string `json:"date"`
	Logins           int64  `json:"logins"`
	Evictions        int64  `json:"evictions"`
	LimitRejections  int64  `json:"limit_rejections"`
	StreamStarts     int64  `json:"stream_starts"`
	StreamRejections int64  `json:"stream_rejections"`
	Takeovers        int64  `json:"takeovers"`
}

type statsJSON struct {
	Days  int             `json:"days"`
	Since string          `json:"since"`
	Plans []planStatsJSON `json:"plans"`
	Daily []dayStatsJSON  `json:"daily"`
}

// statsBody is the API's body of s.
func statsBody(s models.Stats) statsJSON {
	out := statsJSON{Days: s.Days, Since: s.Since.UTC().Format("2006-01-02"),
		Plans: make([]planStatsJSON, len(s.Plans)), Daily: make([]dayStatsJSON, len(s.Daily))}
	for i, p := range s.Plans {
		out.Plans[i] = planStatsJSON{
			PlanID: p.PlanID, Name: p.Name, Users: p.Users, ActiveSessions: p.ActiveSessions, ActiveStreams: p.ActiveStreams,
			UsersAtDeviceLimit: p.UsersAtDeviceLimit, UsersAtStreamLimit: p.UsersAtStreamLimit,
			MaxSessions: p.MaxSessions, MaxStreams: p.MaxStreams, Evictions: p.Evictions, LimitRejections: p.LimitRejections,
		}
	}
	for i, d := range s.Daily {
		out.Daily[i] = dayStatsJSON{
			Date: d.Date.UTC().Format("2006-01-02"), Logins: d.Logins, Evictions: d.Evictions, LimitRejections: d.LimitRejections,
			StreamStarts: d.StreamStarts, StreamRejections: d.StreamRejections, Takeovers: d.Takeovers,
		}
	}
	return out
}

// StatsDays reads ?days= (absent: the default). Shared with the admin page.
func StatsDays(c *gin.Context) (int, error) {
	s := c.Query("days")
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > models.MaxStatsDays {
		return 0, models.Invalid("days", "must be a whole number of days from 1 to "+strconv.Itoa(models.MaxStatsDays))
	}
	return n, nil
}

func (h *handler) adminStats(c *gin.Context) {
	days, err := StatsDays(c)
	if err != nil {
		h.fail(c, err)
		return
	}
	s, err := h.stats.Get(c.Request.Context(), days)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, statsBody(s))
}
