#!/usr/bin/env bash
# The main job on one machine without Kubernetes: build nicplex, then show which PCI NICs of
# this host land in which device-plugin pool (and why the others do not).
set -euo pipefail
cd "$(dirname "$0")/.."
bash test/setup.sh
config=${NICPLEX_DEMO_CONFIG:-config/examples/deviceplugin-host-virtio.json}
echo "== nicplex discover --config $config"
node dist/deploy/nicplex.js discover --config "$config"
echo
echo "== the same in a fresh network namespace (no default route there, so the NIC is offered)"
unshare --net node dist/deploy/nicplex.js discover --config "$config"
