#!/usr/bin/env bash
# Renders scripts/cluster/topology.dot (the cluster of scripts/cluster.sh) to scripts/cluster/topology.svg with
# graphviz's dot (Debian package graphviz, installed when missing and we are root).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v dot >/dev/null && [ "$(id -u)" = 0 ]; then
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q graphviz >/dev/null
fi
dot -Tsvg scripts/cluster/topology.dot -o scripts/cluster/topology.svg
echo "wrote scripts/cluster/topology.svg"
