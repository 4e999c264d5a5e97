#!/usr/bin/env bash
# Runs every test: go vet, then go test -race on all packages against a real Postgres.
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

port_answers() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

find_pg_bin() {
	if command -v initdb >/dev/null 2>&1; then dirname "$(command -v initdb)"; return; fi
	local d
	for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
		[ -x "$d/initdb" ] && { echo "$d"; return; }
	done
	return 1
}

start_throwaway_cluster() {
	local bin dir port as=()
	bin=$(find_pg_bin) || return 1
	dir=$(mktemp -d /tmp/sessiond-pg.XXXXXX)
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null || echo 55432)
	if [ "$(id -u)" = 0 ]; then # initdb and postgres refuse to run as root
		chown postgres "$dir"
		as=(runuser -u postgres --)
	fi
	say "starting a throwaway Postgres cluster in $dir on port $port"
	"${as[@]}" "$bin/initdb" -D "$dir/data" -U postgres -A trust >/dev/null
	"${as[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w \
		-o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300" start >/dev/null
	trap "${as[*]} '$bin/pg_ctl' -D '$dir/data' -m immediate stop >/dev/null 2>&1; rm -rf '$dir'" EXIT
	export TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
}

if [ -z "${TEST_DATABASE_URL:-}" ]; then
	if [ "${TEST_PG:-}" != throwaway ] && port_answers 127.0.0.1 5432; then
		export TEST_DATABASE_URL="postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
		say "using the Postgres on 127.0.0.1:5432"
	elif ! start_throwaway_cluster; then
		if [ "${CI:-}" = true ]; then
			say "FAIL: no Postgres: set TEST_DATABASE_URL, run one on 127.0.0.1:5432, or install initdb/pg_ctl"
			exit 1
		fi
		say "WARNING: no Postgres found; Postgres tests will be SKIPPED (set TEST_DATABASE_URL)"
	fi
else
	say "using TEST_DATABASE_URL"
fi

say "go vet ./..."
go vet ./...

say "go test -race"
if [ $# -gt 0 ]; then
	go test -race -count=1 "$@"
else
	go test -race -count=1 ./...
fi
