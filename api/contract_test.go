package api_test

import (
	"log/slog"
	"mime"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sessiond/sessiond/api"
	"github.com/sessiond/sessiond/api/apitest"
	"github.com/sessiond/sessiond/api/web"
)

// TestMediaTypesAreDocumented serves what is not JSON, /metrics included (a route only when
// Deps.Metrics is set), and checks the real media types: the contract check of every answer
// (newHandler) compares them with the document.
func TestMediaTypesAreDocumented(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector())
	log := slog.New(slog.DiscardHandler)
	h := apitest.NewHandler(t, api.Deps{
		Store: apitest.FakePinger{}, Log: log, MaxBodyBytes: 1 << 16,
		Metrics: promhttp.HandlerFor(reg, promhttp.HandlerOpts{}),
	}, web.Deps{Log: log})
	s := apitest.Serving(t, h)
	for _, c := range []struct {
		path, accept string
		status       int
		mediaType    string
	}{
		{"/metrics", "", 200, "text/plain"},
		{"/metrics", "text/plain;version=0.0.4", 200, "text/plain"},
		{"/metrics", "application/openmetrics-text;version=1.0.0", 200, "text/plain"}, // not enabled: the text format
		{"/metrics", "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited", 200, "application/vnd.google.protobuf"},
		{"/static/app.css", "", 200, "text/css"},
		{"/static/favicon.svg", "", 200, "image/svg+xml"},
		{"/static/nope.css", "", 404, "text/plain"},
		{"/static/", "", 404, "text/plain"}, // no listings
		{"/openapi.yaml", "", 200, "application/yaml"},
	} {
		var headers []string
		if c.accept != "" {
			headers = []string{"Accept", c.accept}
		}
		r := s.Do("GET", c.path, "", "", headers...)
		if mt, _, _ := mime.ParseMediaType(r.Header().Get("Content-Type")); r.Code != c.status || mt != c.mediaType {
			t.Errorf("GET %s (Accept %q) = %d %q, want %d %s", c.path, c.accept, r.Code, r.Header().Get("Content-Type"), c.status, c.mediaType)
		}
	}
}
