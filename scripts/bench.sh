#!/usr/bin/env bash
# Runs a benchmark: scripts/bench.sh [<benchmark>] [flags for it...]
#
#   checks  (the default) builds sessiond and a bare Gin + pgx lookup server, seeds sessions,
#           and measures in one run: a no-op route, the session check with the cache on and
#           off, the raw pgx lookup, login against argon2id alone, and the check's p50 at
#           10,000 sessions against the full table; prints a table of ratios against their
#           targets (scripts/bench/checks). Flags: --sessions N (1000000; 10000000 allowed),
#           --concurrency N (32), --login-concurrency N (8), --duration D (5s per measure),
#           --login-duration D (10s for logins and argon2id), --rounds N (5: the two sides of
#           each ratio alternate, the median round counts), --json PATH.
#   scale   builds sessiond, seeds -scale-sessions N (100000) sessions in use over N/10 users,
#           and checks them with a random token each for -scale-windows (7) windows of
#           -scale-window (15s), with SESSIOND_SESSION_TOUCH_INTERVAL=-scale-touch-interval (20s)
#           so touches fall due several times; per window: checks/s, the no-op route's req/s
#           measured alternately with it (-scale-noop 5s in a window), touch rows/s, statements/s, rows per statement,
#           HOT share of the updates and WAL bytes per check; then the targets over the windows
#           after three intervals (scripts/bench/checks/scale.go). -sessiond-bin PATH measures
#           another build (e.g. main's, for the figures before). Flags also: -concurrency N.
#   purge   services.Purger on a large sessions table, against one plain DELETE of the same
#           rows (scripts/bench/purge). Flags: -rows N (2000000), -expired N (1000000),
#           -batch N (5000), -json PATH. E.g. scripts/bench.sh purge -rows 400000 -expired 200000
#   logins  builds sessiond and floods it with -logins N (500) concurrent logins of distinct
#           users, once per -queues entry (64,500: SESSIOND_HASH_QUEUE of each flood's own
#           process); prints the answers (only 201 and 503 allowed), the peak RSS against
#           idle + (N + 1) × 19 MiB, and the admitted logins' p50/p99 against a login alone
#           (scripts/bench/logins). Flags: -logins N, -queues LIST, -json PATH.
#   revocation  builds sessiond, runs two processes on one Postgres (cache on) and prints how
#           long a session revoked through one takes to be refused by the other: p50, p99
#           and max over -revocations N (200), against the target p99 ≤ 50 ms
#           (scripts/bench/revocation). Flags: -revocations N, -json PATH.
#   stats   GET /v1/admin/stats's query (services.Stats.Get) at -users N (1000000) accounts with
#           their sessions and streams and -events N (10000000) session events over 90 days:
#           the median of -rounds N (5) over 7 and 90 days, with migration 00018's indexes and
#           without them (scripts/bench/stats). E.g. scripts/bench.sh stats -users 100000 -events 1000000
#   streams stream leases (issue 22), in one run on a table of -leases N (1000000; 10000000
#           allowed; seeded by COPY) and one of 10,000: services' Heartbeat against a raw pgx
#           UPDATE at the same concurrency; stream starts (StartStream) against the login core
#           without the hash (SignIn), each replacing its own stream or session; the heartbeat's
#           p50 at N against 10k with -in-use N (10000) leases renewed on both sides, in
#           interleaved rounds; statements, rows, HOT share and WAL bytes per transaction from
#           pg_stat deltas (scripts/bench/streams). Flags: -concurrency N (16), -rounds N (9) of
#           -duration D (2s) per side, -p50-rounds N (21) of -p50-duration D (1s), -json PATH,
#           -cpuprofile PATH, -keep (keep the seeded databases and reuse them next time).
#
# Postgres comes from BENCH_DATABASE_URL, else the server answering on 127.0.0.1:5432 (trust
# auth, role postgres), else a throwaway cluster (initdb/pg_ctl, as for scripts/test.sh). Benchmarks work in a database of their own that they create and drop,
# so the role must be allowed to CREATE DATABASE. They run from the repository root: relative
# paths (-json) are relative to it.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '==> %s\n' "$*" >&2; }

. scripts/pg.sh

usage() {
	sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0" >&2
}

# pick_database sets url to the Postgres server to benchmark on, or fails. It runs in this
# shell (not $(…)): a throwaway cluster lives until this script exits.
pick_database() {
	if [ -n "${BENCH_DATABASE_URL:-}" ]; then
		say "using BENCH_DATABASE_URL"
		url=$BENCH_DATABASE_URL
	elif port_answers 127.0.0.1 5432; then
		say "using the Postgres on 127.0.0.1:5432"
		url="postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	elif start_throwaway_cluster; then
		url=$PG_URL
	else
		say "FAIL: no Postgres: set BENCH_DATABASE_URL, run one on 127.0.0.1:5432, or install initdb/pg_ctl"
		return 1
	fi
}

case "${1:-checks}" in
checks | -*)
	if [ "${1:-}" = checks ]; then shift; fi
	pick_database
	bin=$(mktemp -d /tmp/sessiond-bench.XXXXXX)
	say "building sessiond and rawpgx"
	go build -o "$bin/sessiond" ./cmd/sessiond
	go build -o "$bin/rawpgx" ./scripts/bench/rawpgx
	go build -o "$bin/checks" ./scripts/bench/checks
	status=0
	"$bin/checks" -database-url "$url" -sessiond "$bin/sessiond" -rawpgx "$bin/rawpgx" "$@" || status=$?
	rm -rf "$bin"
	exit $status
	;;
scale)
	shift
	pick_database
	bin=$(mktemp -d /tmp/sessiond-bench.XXXXXX)
	sessiond="$bin/sessiond"
	if [ "${1:-}" = -sessiond-bin ]; then sessiond=$2; shift 2; else say "building sessiond"; go build -o "$sessiond" ./cmd/sessiond; fi
	go build -o "$bin/checks" ./scripts/bench/checks
	status=0
	"$bin/checks" -scale -database-url "$url" -sessiond "$sessiond" "$@" || status=$?
	rm -rf "$bin"
	exit $status
	;;
stats)
	shift
	pick_database
	go run ./scripts/bench/stats -database-url "$url" "$@"
	;;
streams)
	shift
	pick_database
	go run ./scripts/bench/streams -database-url "$url" "$@"
	;;
purge)
	shift
	pick_database
	go run ./scripts/bench/purge -database-url "$url" "$@"
	;;
logins)
	shift
	pick_database
	bin=$(mktemp -d /tmp/sessiond-bench.XXXXXX)
	say "building sessiond"
	go build -o "$bin/sessiond" ./cmd/sessiond
	go build -o "$bin/logins" ./scripts/bench/logins
	status=0
	"$bin/logins" -database-url "$url" -sessiond "$bin/sessiond" "$@" || status=$?
	rm -rf "$bin"
	exit $status
	;;
revocation)
	shift
	pick_database
	bin=$(mktemp -d /tmp/sessiond-bench.XXXXXX)
	say "building sessiond"
	go build -o "$bin/sessiond" ./cmd/sessiond
	go build -o "$bin/revocation" ./scripts/bench/revocation
	status=0
	"$bin/revocation" -database-url "$url" -sessiond "$bin/sessiond" "$@" || status=$?
	rm -rf "$bin"
	exit $status
	;;
*)
	usage
	exit 2
	;;
esac
