#!/usr/bin/env bash
# Renders docs/topology.dot (the cluster of scripts/cluster.sh) to docs/topology.svg with
# graphviz's dot (Debian package graphviz, installed when missing and we are root).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v dot >/dev/null && [ "$(id -u)" = 0 ]; then
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q graphviz >/dev/null
fi
dot -Tsvg docs/topology.dot -o docs/topology.svg
echo "wrote docs/topology.svg"
