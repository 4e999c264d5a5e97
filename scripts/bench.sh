#!/usr/bin/env bash
# Runs a benchmark: scripts/bench.sh <benchmark> [flags for it...]
#
#   purge   services.Purger on a large sessions table, against one plain DELETE of the same
#           rows (scripts/bench/purge). Flags: -rows N (2000000), -expired N (1000000),
#           -batch N (5000), -json PATH. E.g. scripts/bench.sh purge -rows 400000 -expired 200000
#
# Postgres comes from BENCH_DATABASE_URL, else the server answering on 127.0.0.1:5432 (trust
# auth, role postgres). Benchmarks work in a database of their own that they create and drop,
# so the role must be allowed to CREATE DATABASE. They run from the repository root: relative
# paths (-json) are relative to it.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '==> %s\n' "$*" >&2; }

usage() {
	sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0" >&2
}

port_answers() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# bench_database_url prints the URL of the Postgres server to benchmark on, or fails.
bench_database_url() {
	if [ -n "${BENCH_DATABASE_URL:-}" ]; then
		say "using BENCH_DATABASE_URL"
		printf '%s\n' "$BENCH_DATABASE_URL"
	elif port_answers 127.0.0.1 5432; then
		say "using the Postgres on 127.0.0.1:5432"
		printf '%s\n' "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	else
		say "FAIL: no Postgres: set BENCH_DATABASE_URL or run one on 127.0.0.1:5432 (trust auth, role postgres)"
		return 1
	fi
}

case "${1:-}" in
purge)
	shift
	url=$(bench_database_url)
	exec go run ./scripts/bench/purge -database-url "$url" "$@"
	;;
*)
	usage
	exit 2
	;;
esac
