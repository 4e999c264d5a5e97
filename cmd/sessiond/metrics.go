package main

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sessiond/sessiond/models"
	"github.com/sessiond/sessiond/services"
)

// metrics are sessiond's Prometheus metrics, in a registry of their own. Labels never hold a
// user, a device, a session or a token: only routes, methods, statuses, results and reasons.
// It is the services' Observer and the API's RequestObserver.
type metrics struct {
	reg           *prometheus.Registry
	requests      *prometheus.HistogramVec
	logins        *prometheus.CounterVec
	evicted       prometheus.Counter
	revoked       *prometheus.CounterVec
	purgeRuns     *prometheus.CounterVec
	purgeDeleted  *prometheus.CounterVec
	purgeDuration prometheus.Histogram
	deviceGrants  *prometheus.CounterVec
	streams       streamMetrics
}

// How often, and how long at most, the gauge of active sessions asks the store: a number is
// reused this long, and a down store does not slow scrapes. A number older than
// activeCountStale (the store failed to answer since) is no longer reported: an absent gauge
// says "unknown", a stale one would lie. Not settings: the gauge's help text promises them,
// and a scrape interval rarely differs.
const (
	activeCountTTL     = 15 * time.Second
	activeCountTimeout = time.Second
	activeCountStale   = time.Minute
)

func newMetrics(sqlDB *sql.DB, health *services.Health, log *slog.Logger) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "sessiond_http_request_duration_seconds",
			Help:    "HTTP requests by route pattern, method and status.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route", "method", "status"}),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sessiond_logins_total",
			Help: "Login attempts by result: success, invalid_credentials, limit_rejected, rate_limited, invalid_request, overloaded (the hashing queue was full), error.",
		}, []string{"result"}),
		evicted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sessiond_sessions_evicted_total",
			Help: "Sessions evicted by the device limit (also counted in sessiond_sessions_revoked_total{reason=\"evicted\"}).",
		}),
		revoked: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sessiond_sessions_revoked_total",
			Help: "Sessions ended before their expiry, by reason.",
		}, []string{"reason"}),
		purgeRuns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sessiond_purge_runs_total",
			Help: "Purge runs that were not skipped, by result (ok, error).",
		}, []string{"result"}),
		purgeDeleted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sessiond_purge_deleted_total",
			Help: "Rows the purge deleted, by kind: expired, revoked, events, throttles, sign_ins, mail.",
		}, []string{"kind"}),
		purgeDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "sessiond_purge_duration_seconds",
			Help:    "Duration of purge runs.",
			Buckets: prometheus.ExponentialBuckets(0.01, 4, 8),
		}),
	}
	m.deviceGrants = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sessiond_device_grants_total",
		Help: "TV sign-ins with a code (RFC 8628) by event: started (a code given out), approved, denied, expired (polled past its end unanswered).",
	}, []string{"event"})
	for _, e := range []string{"started", "approved", "denied", "expired"} {
		m.deviceGrants.WithLabelValues(e) // present at zero from the start
	}
	for _, r := range []services.LoginOutcome{services.LoginSuccess, services.LoginInvalidCredentials,
		services.LoginLimitRejected, services.LoginRateLimited, services.LoginOverloaded} {
		m.logins.WithLabelValues(string(r)) // present at zero from the start
	}
	active := &activeSessions{health: health, log: log, desc: prometheus.NewDesc(
		"sessiond_active_sessions", fmt.Sprintf("Live sessions (not revoked, idle deadline ahead), asked of the store at most every 15 s: "+
			"counted exactly below %d, beyond that the planner's estimate from table statistics (no row read). "+
			"Absent when the store has not answered for a minute.", services.ActiveExactBelow), nil, nil)}
	m.reg.MustRegister(m.requests, m.logins, m.evicted, m.revoked, m.purgeRuns, m.purgeDeleted, m.purgeDuration, m.deviceGrants, active,
		collectors.NewDBStatsCollector(sqlDB, "sessiond"),
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.registerStreams(health, log)
	return m
}

// handler serves the registry in the Prometheus text format.
func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

func (m *metrics) ObserveRequest(route, method string, status int, elapsed time.Duration) {
	if route == "" {
		route = "unmatched"
	}
	m.requests.WithLabelValues(route, method, strconv.Itoa(status)).Observe(elapsed.Seconds())
}

// DeviceGrant counts an event of the TV sign-in with a code.
func (m *metrics) DeviceGrant(event string) { m.deviceGrants.WithLabelValues(event).Inc() }

func (m *metrics) LoginFinished(o services.LoginOutcome) { m.logins.WithLabelValues(string(o)).Inc() }

func (m *metrics) SessionsEnded(reason models.RevokeReason, ids []string) {
	m.revoked.WithLabelValues(string(reason)).Add(float64(len(ids)))
	if reason == models.ReasonEvicted {
		m.evicted.Add(float64(len(ids)))
	}
}

func (m *metrics) PurgeFinished(res services.PurgeResult, err error) {
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.purgeRuns.WithLabelValues(result).Inc()
	for kind, n := range map[string]int64{"expired": res.Expired, "revoked": res.Revoked, "events": res.Events, "throttles": res.Throttles, "sign_ins": res.SignIns, "mail": res.Mail} {
		m.purgeDeleted.WithLabelValues(kind).Add(float64(n))
	}
	if err == nil {
		m.purgeDuration.Observe(res.Duration.Seconds())
	}
}

// activeSessions is the gauge of live sessions (services.Health.ActiveSessions: exact while
// few, else estimated): asked at most once per activeCountTTL, within activeCountTimeout; a
// failure keeps the last number until it is activeCountStale.
type activeSessions struct {
	health *services.Health
	log    *slog.Logger
	desc   *prometheus.Desc

	mu      sync.Mutex
	value   float64
	counted time.Time // of value; zero: none yet
	asked   time.Time // the last time the store was asked, answered or not
}

func (a *activeSessions) Describe(ch chan<- *prometheus.Desc) { ch <- a.desc }

func (a *activeSessions) Collect(ch chan<- prometheus.Metric) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if time.Since(a.asked) >= activeCountTTL {
		a.asked = time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), activeCountTimeout)
		n, err := a.health.ActiveSessions(ctx, time.Now())
		cancel()
		if err != nil {
			a.log.Warn("count active sessions for metrics", "err", err)
		} else {
			a.value, a.counted = float64(n.N), time.Now()
		}
	}
	if a.counted.IsZero() || time.Since(a.counted) >= activeCountStale {
		return
	}
	ch <- prometheus.MustNewConstMetric(a.desc, prometheus.GaugeValue, a.value)
}

func (m *metrics) UsersChanged([]string) {}
func (m *metrics) PlansChanged()         {}
