# Postgres helpers shared by scripts/test.sh and scripts/bench.sh (sourced, not run). They
# expect a say function.

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
	PG_URL="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
}

