#!/usr/bin/env bash
# Runs every test: go vet, the OpenAPI lint (redocly), then go test -race on all packages
# against a real Postgres, the web pages' tests in headless chromium included.
#
# Postgres comes from, in order: TEST_DATABASE_URL; a server answering on 127.0.0.1:5432
# (trust auth, role postgres); a throwaway cluster started here with initdb/pg_ctl (from PATH
# or /usr/lib/postgresql/*/bin) on a free port and removed afterwards. Under CI=true a missing
# Postgres is a failure; elsewhere the Postgres tests are skipped with a loud warning.
# TEST_PG=throwaway skips the first two and always starts a throwaway cluster.
# Extra arguments go to `go test` (e.g. scripts/test.sh -run Race ./services/).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '==> %s\n' "$*" >&2; }

. scripts/pg.sh

if [ -z "${TEST_DATABASE_URL:-}" ]; then
	if [ "${TEST_PG:-}" != throwaway ] && port_answers 127.0.0.1 5432; then
		export TEST_DATABASE_URL="postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
		say "using the Postgres on 127.0.0.1:5432"
	elif start_throwaway_cluster; then
		export TEST_DATABASE_URL="$PG_URL"
	else
		if [ "${CI:-}" = true ]; then
			say "FAIL: no Postgres: set TEST_DATABASE_URL, run one on 127.0.0.1:5432, or install initdb/pg_ctl"
			exit 1
		fi
		say "WARNING: no Postgres found; Postgres tests will be SKIPPED (set TEST_DATABASE_URL)"
	fi
else
	say "using TEST_DATABASE_URL"
fi

# The browser tests (cmd/sessiond) drive Debian's chromium headless. Install it when missing and
# we can (root with apt); without it they fail under CI=true and are skipped, loudly, elsewhere.
have_chromium() { command -v chromium >/dev/null || command -v chromium-browser >/dev/null || command -v google-chrome >/dev/null; }
if ! have_chromium && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
	say "installing Debian's chromium for the browser tests"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -q chromium >/dev/null 2>&1 ||
		{ apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium >/dev/null 2>&1; } ||
		say "could not install chromium"
fi
if ! have_chromium; then
	if [ "${CI:-}" = true ]; then
		say "FAIL: no chromium for the browser tests: install Debian's chromium package"
		exit 1
	fi
	say "WARNING: no chromium: the browser tests will be SKIPPED (install Debian's chromium package)"
fi

say "go vet ./..."
go vet ./...

# The OpenAPI document must pass redocly's recommended rules with 0 errors and 0 warnings
# (api/redocly.yaml raises every warning to an error and says why two rules are off). The
# version is pinned; npx downloads it from the npm registry once and caches it. Without npx it
# is installed when we can (root with apt); still without, a failure under CI=true, elsewhere
# skipped with a loud warning.
redocly=@redocly/cli@2.77.0 # 2.x runs on Node.js 20.19+ and 22.12+
if ! command -v npx >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
	say "installing Debian's nodejs and npm for the OpenAPI lint"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -q nodejs npm >/dev/null 2>&1 ||
		{ apt-get update -q >/dev/null 2>&1 && apt-get install -y -q nodejs npm >/dev/null 2>&1; } ||
		say "could not install nodejs and npm"
fi
if command -v npx >/dev/null; then
	say "redocly lint api/openapi.yaml ($redocly)"
	NPM_CONFIG_UPDATE_NOTIFIER=false npx --yes "$redocly" lint --config api/redocly.yaml api/openapi.yaml
elif [ "${CI:-}" = true ]; then
	say "FAIL: no npx for the OpenAPI lint: install Debian's nodejs and npm packages"
	exit 1
else
	say "WARNING: no npx: the OpenAPI lint (redocly) is SKIPPED (install Node.js and npm)"
fi

# One package at a time (-p 1): on a 2-core machine, the services package's race-detector
# runs and bulk purges beside cmd/sessiond's two-process tests stalled Postgres for ~60 ms now
# and then, which is what the revocation-delay test (p99 ≤ 50 ms) measures. In turn the whole
# run takes about 30 s longer.
say "go test -race -p 1"
if [ $# -gt 0 ]; then
	go test -race -count=1 -p 1 "$@"
else
	go test -race -count=1 -p 1 ./...
fi

# The cluster scenarios (scripts/cluster.sh: three hosts in network namespaces behind HAProxy,
# a synchronous standby, failover) need root. With no arguments, they run under CI=true with
# small counts (about 3 minutes), and as root elsewhere; a correctness failure fails the run,
# a missed latency target is only reported (cluster-results.json). Not root outside CI: skipped.
if [ $# -eq 0 ]; then
	if [ "$(id -u)" = 0 ]; then
		say "cluster scenarios (scripts/cluster.sh, small counts)"
		scripts/cluster.sh -logins 200 -concurrency 50 -revocations 50 -load-seconds 3
	elif [ "${CI:-}" = true ]; then
		say "FAIL: the cluster scenarios need root under CI=true"
		exit 1
	else
		say "WARNING: not root: the cluster scenarios (scripts/cluster.sh) are SKIPPED"
	fi
fi
