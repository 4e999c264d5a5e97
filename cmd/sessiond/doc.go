// Command sessiond runs the session service and its operator commands.
//
// main hands run its whole outside world (arguments, getenv, standard streams), so tests run
// the binary in-process. Every command builds an app (app.go): the configuration, the logger,
// the store and the use cases, wired here and nowhere else; this is the one place that knows
// which service satisfies which interface of api and web (asserted at compile time).
//
// `serve` (serve.go) starts in steps, each needing the ones before it: open the store, prepare
// it (migrations when SESSIOND_MIGRATE_ON_START, the default plan, the bootstrap admin), build
// the HTTP handler (identity providers, pages, API), listen (and the metrics' own listener),
// start the background work (the purge schedule, purge.go, and on Postgres the cache's change
// listener), then serve. It stops in reverse: /readyz answers 503 (and keeps serving for
// SESSIOND_SHUTDOWN_DELAY), HTTP drains for up to SESSIOND_SHUTDOWN_TIMEOUT, the purge and the
// listener stop (a running purge after its current batch), the store closes. A start that
// fails part-way undoes what it began.
//
// The operator commands (operator.go, admin.go, migrate.go, purge.go, version.go) open the
// store, migrate it, call one use case and print the result; they act as the operator
// (models.Admin{Operator: true}) in the audit log. metrics.go holds the Prometheus metrics:
// the services' Observer and the API's RequestObserver, labelled by route, method, status,
// result and reason only.
package main
