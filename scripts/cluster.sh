#!/usr/bin/env bash
# A small real sessiond cluster on this machine, and the scenarios an operator judges it by.
#
# As root, from Debian's packages (haproxy and iproute2 are installed when missing; the
# Postgres server binaries are found as in scripts/test.sh), it builds in network namespaces
# of its own, on two bridges in 10.231.0.0/16 (addresses of this cluster alone):
#
#   front 10.231.0.0/24   sd-lb 10.231.0.10 (HAProxy :8080, checks /readyz)
#                         sd-app1..3 10.231.0.11-13 (sessiond :8080)
#   db    10.231.1.0/24   sd-app1..3 10.231.1.11-13, sd-db1 10.231.1.21 (primary),
#                         sd-db2 10.231.1.22 (synchronous streaming standby)
#
# The root namespace holds .1 on both bridges: the scenario driver (scripts/cluster, a Go
# program) runs there, addresses HAProxy and each host, and reads Postgres to count. sessiond
# reaches Postgres through a multi-host URL with target_session_attrs=read-write. Results go
# to cluster-results.json (CLUSTER_RESULTS) and a table on stdout.
#
# Everything is torn down when the script ends, on success, failure or Ctrl-C: processes,
# namespaces, bridges, files. The driver fails (and so this script) on a correctness failure
# (a limit violation, a lost login, an error other than 503); a missed latency target is
# reported in the results and does not fail it.
#
# Usage: scripts/cluster.sh [driver flags…], e.g. scripts/cluster.sh -logins 200 -revocations 50
#   (scripts/cluster.sh ctl VERB N is what the driver calls back; not for people.)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

NS=(sd-lb sd-app1 sd-app2 sd-app3 sd-db1 sd-db2)
say() { printf '==> cluster: %s\n' "$*" >&2; }
inns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

# --- callbacks of the driver: state lives in $CLUSTER_DIR -------------------------------------
app_env() { # the environment of host $1
	local i=$1
	echo "SESSIOND_ADDR=10.231.0.1$i:8080"
	echo "SESSIOND_DATABASE_URL=postgres://postgres@10.231.1.21:5432,10.231.1.22:5432/sessiond?sslmode=disable&target_session_attrs=read-write&connect_timeout=2"
	echo "SESSIOND_LOGIN_RATE_PER_IP=0"
	echo "SESSIOND_TRUSTED_PROXIES=10.231.0.10"
	echo "SESSIOND_COOKIE_SECURE=false"
	echo "SESSIOND_LOG_LEVEL=warn"
	echo "SESSIOND_SHUTDOWN_DELAY=1500ms"
	echo "SESSIOND_DB_CONNECT_TIMEOUT=1s"
	echo "SESSIOND_FRESH_SESSION_AGE=0"
	echo "SESSIOND_HASH_QUEUE=256"
}

start_app() {
	local i=$1
	# env -i: the host sees only its own settings, not this shell's.
	inns "sd-app$i" env -i PATH="$PATH" $(app_env "$i") "$CLUSTER_DIR/sessiond" serve \
		>>"$CLUSTER_DIR/app$i.log" 2>&1 &
	echo $! >"$CLUSTER_DIR/app$i.pid"
	for _ in $(seq 1 300); do
		if curl -fsS -o /dev/null --max-time 1 "http://10.231.0.1$i:8080/readyz" 2>/dev/null; then return 0; fi
		sleep 0.1
	done
	say "host $i did not become ready"; tail -5 "$CLUSTER_DIR/app$i.log" >&2; return 1
}

stop_app() { # SIGTERM, then wait: the host drains (SESSIOND_SHUTDOWN_DELAY) and exits
	local i=$1 pid
	pid=$(cat "$CLUSTER_DIR/app$i.pid")
	kill -TERM "$pid" 2>/dev/null || return 0
	while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
}

pg() { runuser -u postgres -- "$PGBIN/$1" "${@:2}"; }

start_pg() { # $1: 1 or 2; extra postgres options after
	local i=$1; shift
	install -d -o postgres "$CLUSTER_DIR/sock$i"
	inns "sd-db$i" runuser -u postgres -- "$PGBIN/pg_ctl" -D "$CLUSTER_DIR/db$i" -l "$CLUSTER_DIR/db$i.log" -w \
		-o "-c listen_addresses=10.231.1.2$i -p 5432 -k $CLUSTER_DIR/sock$i $*" start >/dev/null
}

kill_primary() { # kill -9 the postmaster and every backend of it, as a host that dies would
	local pid kids
	pid=$(head -1 "$CLUSTER_DIR/db1/postmaster.pid")
	kids=$(pgrep -P "$pid" || true)
	kill -9 "$pid" $kids 2>/dev/null || true
}

ctl() {
	: "${CLUSTER_DIR:?}" "${PGBIN:?}"
	case "$1" in
	stop-host) stop_app "$2" ;;
	start-host) start_app "$2" ;;
	restart-host) stop_app "$2" && start_app "$2" ;;
	cut-host) inns "sd-app$2" ip link set db0 down ;;
	heal-host) inns "sd-app$2" ip link set db0 up ;;
	kill-primary) kill_primary ;;
	promote-standby) inns sd-db2 runuser -u postgres -- "$PGBIN/pg_ctl" -D "$CLUSTER_DIR/db2" -w promote >/dev/null ;;
	*) echo "cluster.sh ctl: unknown verb $1" >&2; return 2 ;;
	esac
}

if [ "${1:-}" = ctl ]; then
	shift
	ctl "$@"
	exit
fi

# --- set-up ------------------------------------------------------------------------------------
if [ "$(id -u)" != 0 ]; then
	say "needs root (network namespaces, HAProxy, Postgres as the postgres user)"
	exit 2
fi
. scripts/pg.sh
need=()
command -v haproxy >/dev/null || need+=(haproxy)
command -v ip >/dev/null || need+=(iproute2)
command -v curl >/dev/null || need+=(curl)
if [ ${#need[@]} -gt 0 ]; then
	say "installing ${need[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -q "${need[@]}" >/dev/null 2>&1 ||
		{ apt-get update -q >/dev/null 2>&1 && apt-get install -y -q "${need[@]}" >/dev/null; }
fi
# Debian's server directory, which has pg_basebackup beside initdb (PATH may hold initdb alone).
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r | head -1)
[ -n "$PGBIN" ] && [ -x "$PGBIN/pg_basebackup" ] || PGBIN=$(find_pg_bin) || true
[ -n "$PGBIN" ] && [ -x "$PGBIN/pg_basebackup" ] || { say "no Postgres server binaries (initdb, pg_ctl, pg_basebackup)"; exit 1; }
export PGBIN

CLUSTER_DIR=$(mktemp -d /tmp/sessiond-cluster.XXXXXX)
export CLUSTER_DIR
chmod 755 "$CLUSTER_DIR"

teardown() {
	local rc=$? i pid
	trap - EXIT INT TERM
	set +e
	for i in 1 2 3; do
		[ -f "$CLUSTER_DIR/app$i.pid" ] && kill -KILL "$(cat "$CLUSTER_DIR/app$i.pid")" 2>/dev/null
	done
	[ -f "$CLUSTER_DIR/haproxy.pid" ] && kill -KILL "$(cat "$CLUSTER_DIR/haproxy.pid")" 2>/dev/null
	for i in 1 2; do
		if [ -f "$CLUSTER_DIR/db$i/postmaster.pid" ]; then
			pid=$(head -1 "$CLUSTER_DIR/db$i/postmaster.pid")
			kill -KILL "$pid" $(pgrep -P "$pid") 2>/dev/null
		fi
	done
	for ns in "${NS[@]}"; do
		# Whatever still runs in a namespace of ours (nothing, normally) ends with it.
		for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
		ip netns del "$ns" 2>/dev/null
	done
	ip link del sd-front 2>/dev/null
	ip link del sd-db 2>/dev/null
	if [ $rc -ne 0 ]; then
		for f in "$CLUSTER_DIR"/app*.log "$CLUSTER_DIR"/db*.log; do
			[ -s "$f" ] && { say "last lines of $(basename "$f"):"; tail -5 "$f" >&2; }
		done
	fi
	rm -rf "$CLUSTER_DIR"
	say "torn down (exit $rc)"
	exit $rc
}
trap teardown EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Leftovers of a run that was killed outright (SIGKILL skips the trap).
for ns in "${NS[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
ip link del sd-front 2>/dev/null || true
ip link del sd-db 2>/dev/null || true

say "building sessiond and the driver"
go build -o "$CLUSTER_DIR/sessiond" ./cmd/sessiond
go build -o "$CLUSTER_DIR/driver" ./scripts/cluster

say "network: namespaces ${NS[*]} on bridges sd-front and sd-db"
for br in sd-front:10.231.0.1/24 sd-db:10.231.1.1/24; do
	ip link add "${br%%:*}" type bridge
	ip addr add "${br#*:}" dev "${br%%:*}"
	ip link set "${br%%:*}" up
done
link() { # namespace, interface name in it, bridge, address
	local ns=$1 ifname=$2 br=$3 addr=$4 host=v${RANDOM}
	ip link add "$host" type veth peer name "$ifname" netns "$ns"
	ip link set "$host" master "$br" up
	inns "$ns" ip addr add "$addr" dev "$ifname"
	inns "$ns" ip link set "$ifname" up
}
for ns in "${NS[@]}"; do
	ip netns add "$ns"
	inns "$ns" ip link set lo up
done
link sd-lb eth0 sd-front 10.231.0.10/24
for i in 1 2 3; do
	link "sd-app$i" eth0 sd-front "10.231.0.1$i/24"
	link "sd-app$i" db0 sd-db "10.231.1.1$i/24"
done
link sd-db1 eth0 sd-db 10.231.1.21/24
link sd-db2 eth0 sd-db 10.231.1.22/24

say "Postgres: primary on 10.231.1.21, synchronous standby on 10.231.1.22 ($PGBIN)"
chown postgres "$CLUSTER_DIR"
pg initdb -D "$CLUSTER_DIR/db1" -U postgres -A trust >/dev/null
cat >>"$CLUSTER_DIR/db1/postgresql.conf" <<EOF
wal_level = replica
max_wal_senders = 5
max_connections = 200
fsync = off
EOF
echo "host all,replication all 10.231.0.0/16 trust" >>"$CLUSTER_DIR/db1/pg_hba.conf"
# synchronous_standby_names on the command line, not in the files the standby copies: promoted,
# the standby must not wait for a standby of its own.
start_pg 1 "-c synchronous_standby_names=standby"
inns sd-db2 runuser -u postgres -- "$PGBIN/pg_basebackup" -h 10.231.1.21 -U postgres -D "$CLUSTER_DIR/db2" -X stream \
	-d "host=10.231.1.21 user=postgres application_name=standby" -R >/dev/null
start_pg 2
for _ in $(seq 1 100); do
	state=$(inns sd-db1 runuser -u postgres -- "$PGBIN/psql" -h 10.231.1.21 -U postgres -Atc \
		"SELECT sync_state FROM pg_stat_replication WHERE application_name = 'standby'" 2>/dev/null || true)
	[ "$state" = sync ] && break
	sleep 0.1
done
[ "$state" = sync ] || { say "the standby is not synchronous (state '$state')"; exit 1; }
inns sd-db1 runuser -u postgres -- "$PGBIN/psql" -h 10.231.1.21 -U postgres -qc "CREATE DATABASE sessiond" >/dev/null

say "sessiond on 10.231.0.11-13 (the first migrates)"
for i in 1 2 3; do start_app "$i"; done

say "HAProxy on 10.231.0.10:8080"
cat >"$CLUSTER_DIR/haproxy.cfg" <<EOF
global
	maxconn 2000
defaults
	mode http
	timeout connect 1s
	timeout client 30s
	timeout server 30s
	retries 2
	option redispatch
	retry-on conn-failure empty-response
	option http-server-close
	option forwardfor
frontend api
	bind 10.231.0.10:8080
	default_backend sessiond
backend sessiond
	balance roundrobin
	option httpchk GET /readyz
	http-check expect status 200
	default-server check inter 250ms fall 2 rise 2
	server app1 10.231.0.11:8080
	server app2 10.231.0.12:8080
	server app3 10.231.0.13:8080
EOF
inns sd-lb haproxy -q -D -f "$CLUSTER_DIR/haproxy.cfg" -p "$CLUSTER_DIR/haproxy.pid"
for _ in $(seq 1 100); do
	curl -fsS -o /dev/null --max-time 1 http://10.231.0.10:8080/readyz 2>/dev/null && break
	sleep 0.1
done

say "running the scenarios"
"$CLUSTER_DIR/driver" \
	-lb http://10.231.0.10:8080 \
	-hosts http://10.231.0.11:8080,http://10.231.0.12:8080,http://10.231.0.13:8080 \
	-database-url "postgres://postgres@10.231.1.21:5432,10.231.1.22:5432/sessiond?sslmode=disable&target_session_attrs=read-write&connect_timeout=2" \
	-ctl "$root/scripts/cluster.sh" \
	-json "${CLUSTER_RESULTS:-$root/cluster-results.json}" "$@"
