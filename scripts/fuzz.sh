#!/usr/bin/env bash
# Runs every Go fuzz target of the module, one after another, each for the given time:
#
#   scripts/fuzz.sh [DURATION]     e.g. scripts/fuzz.sh 5m   (default 30s per target)
#
# Seed corpora (f.Add seeds and testdata/fuzz/<Target>/) also run in every plain `go test`;
# this script searches beyond them. A failing input is written to testdata/fuzz/<Target>/ by
# go test: commit it with the fix, and it stays a regression test.
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-30s}
failed=0
for pkg in $(go list ./...); do
	for target in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
		printf '==> %s %s for %s\n' "$pkg" "$target" "$duration"
		if ! go test -run '^$' -fuzz "^${target}\$" -fuzztime "$duration" "$pkg"; then
			printf '==> FAIL: %s %s\n' "$pkg" "$target"
			failed=1
		fi
	done
done
exit $failed
