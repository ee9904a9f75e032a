#!/usr/bin/env bash
# The main job on one machine without Kubernetes: set up, then run `nicplex agent` in standalone mode
# and watch two pods get their networks from NetworkAttachmentDefinitions through the C shim, talk over
# the secondary network, and leave nothing behind after DEL.
#
# Everything happens in network namespaces this script creates: a "node" namespace holding the NICs the
# demo makes (veth pairs) and the agent, and two "pod" namespaces. The host's own interfaces, addresses
# and routes are never touched (the script checks that at the end). Pods are plain network namespaces,
# not podman containers: they need no image, start in milliseconds and show exactly what CNI does.
#
# NICPLEX_DEMO_SKIP_SETUP=1 skips `bash test/setup.sh` (the test suite, which has set up already).
set -euo pipefail
cd "$(dirname "$0")/.."
[ "${NICPLEX_DEMO_SKIP_SETUP:-}" = 1 ] || bash test/setup.sh

started_ns=$(date +%s%N)
repo=$PWD
nicplex() { node "$repo/dist/deploy/nicplex.js" "$@"; }
step=0
elapsed() { local ms=$(( ($(date +%s%N) - started_ns) / 1000000 )); printf '%d.%d s' $((ms / 1000)) $((ms % 1000 / 100)); }
heading() { step=$((step + 1)); printf '\n== %d. %s   [%s]\n' "$step" "$*" "$(elapsed)"; }
ok() { printf '   ok: %s\n' "$*"; summary+=("$*"); }
summary=()

tag="nicplex-demo-$$"
node_ns="$tag-node"
pod_ns=("$tag-pod-a" "$tag-pod-b")
pods=(pod-a pod-b)
# 64 hex digits, as runtimes make them.
container_ids=("$(echo "$tag-pod-a" | sha256sum | cut -c1-64)" "$(echo "$tag-pod-b" | sha256sum | cut -c1-64)")
state=$(mktemp -d /tmp/nicplex-demo.XXXXXX)
agent_pid=""
created_ns=()

host_snapshot() {
  { ip -o link show | sed -E 's/^[0-9]+: ([^:@]+).*/\1/'; ip -o addr show; ip route show table all; ip -6 route show table all; } 2>&1
}

stop_agent() {
  [ -n "$agent_pid" ] || return 0
  if kill -0 "$agent_pid" 2>/dev/null; then
    kill -TERM "$agent_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$agent_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$agent_pid" 2>/dev/null || true
  fi
  wait "$agent_pid" 2>/dev/null || true
  agent_pid=""
}

cleanup() {
  stop_agent
  local ns
  for ns in "${created_ns[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
  created_ns=()
  rm -rf "$state"
}

fail() {
  echo "demo FAILED: $*" >&2
  if [ -s "$state/agent.log" ]; then echo "-- last lines of the agent's log:" >&2; tail -n 20 "$state/agent.log" >&2; fi
  exit 1
}
trap 'status=$?; cleanup; exit $status' EXIT
trap 'exit 130' INT TERM

if command -v ping >/dev/null 2>&1; then ping_cmd=(ping); elif command -v busybox >/dev/null 2>&1; then ping_cmd=(busybox ping)
else fail "needs ping (apt: iputils-ping) or busybox (apt: busybox-static, which test/setup.sh installs)"; fi
[ -x /usr/lib/cni/bridge ] && [ -x /usr/lib/cni/macvlan ] || fail "needs the reference CNI plugins in /usr/lib/cni (apt: containernetworking-plugins, which test/setup.sh installs)"
[ -x build/Release/nicplex-shim ] && [ -e dist/deploy/nicplex.js ] || fail "nicplex is not built (run bash test/setup.sh, or npm run build)"
host_before=$(host_snapshot)

# ---------------------------------------------------------------------------------------------------
heading "a \"node\" network namespace with the NICs the demo makes"
ip netns add "$node_ns"; created_ns+=("$node_ns")
in_node() { ip netns exec "$node_ns" "$@"; }
ip -n "$node_ns" link set lo up
ip -n "$node_ns" link add mv-master type veth peer name mv-peer   # macvlan master
ip -n "$node_ns" link add hd-a type veth peer name hd-b           # one end to each pod by host-device
ip -n "$node_ns" link add ipv-master type veth peer name ipv-peer # ipvlan master (if the kernel has ipvlan)
for link in mv-master mv-peer hd-a hd-b ipv-master ipv-peer; do ip -n "$node_ns" link set "$link" up; done
mkdir -p "$state/nads" "$state/run" "$state/net.d" "$state/cni-bin"
for file in deploy/demo/nads/macvlan.yaml deploy/demo/nads/hostdev-a.yaml deploy/demo/nads/hostdev-b.yaml; do
  sed "s|@STATE@|$state|g" "$file" > "$state/nads/$(basename "$file")"
done
secondary=(macvlan)
if ip -n "$node_ns" link add ipv-probe link ipv-master type ipvlan mode l2 2>/dev/null; then
  ip -n "$node_ns" link del ipv-probe
  sed "s|@STATE@|$state|g" deploy/demo/nads/ipvlan.yaml > "$state/nads/ipvlan.yaml"
  secondary+=(ipvlan)
  ipvlan_note="ipvlan NAD included"
else
  ipvlan_note="ipvlan skipped: this kernel ($(uname -r)) has no ipvlan support"
fi
sed "s|@STATE@|$state|g" deploy/demo/nicplex.conf > "$state/00-nicplex.conf"
ip -n "$node_ns" -br link show | sed 's/^/   /'
echo "   NADs in $state/nads: $(cd "$state/nads" && echo *)"
echo "   $ipvlan_note"
ok "node namespace $node_ns with veth NICs mv-master, hd-a/hd-b, ipv-master"

# ---------------------------------------------------------------------------------------------------
heading "nicplex agent (standalone) inside the node namespace: installs the shim and the conf"
ip netns exec "$node_ns" node "$repo/dist/deploy/nicplex.js" agent \
  --socket-dir "$state/run" --cni-conf "$state/00-nicplex.conf" --cni-conf-dir "$state/net.d" \
  --cni-bin-dir "$state/cni-bin" --cleanup-config-on-exit --metrics-address 127.0.0.1:9184 \
  --log-level info 2> "$state/agent.log" &
agent_pid=$!
for _ in $(seq 100); do
  [ -S "$state/run/nicplex.sock" ] && [ -e "$state/net.d/00-nicplex.conf" ] && break
  kill -0 "$agent_pid" 2>/dev/null || fail "the agent exited"
  sleep 0.1
done
[ -S "$state/run/nicplex.sock" ] || fail "the agent did not listen on $state/run/nicplex.sock within 10 s"
[ -e "$state/net.d/00-nicplex.conf" ] || fail "the agent did not install $state/net.d/00-nicplex.conf within 10 s"
echo "   agent pid $agent_pid, socket $state/run/nicplex.sock"
echo "   shim installed as $state/cni-bin/nicplex ($(stat -c %s "$state/cni-bin/nicplex") bytes, static C)"
echo "   conf installed as $state/net.d/00-nicplex.conf (socketDir filled in)"
ok "agent running, shim and conf installed"

# Calls the installed shim the way a runtime does: CNI_* in the environment, the installed conf on stdin.
cni() { # cni COMMAND INDEX
  local index=$2 networks
  networks=$(IFS=,; echo "${secondary[*]},hostdev-${pods[$index]#pod-}")
  CNI_COMMAND=$1 CNI_CONTAINERID="${container_ids[$index]}" CNI_NETNS="/var/run/netns/${pod_ns[$index]}" \
    CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni \
    CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=${pods[$index]};NICPLEX_NETWORKS=$networks" \
    "$state/cni-bin/nicplex" < "$state/net.d/00-nicplex.conf"
}

# ---------------------------------------------------------------------------------------------------
heading "two pods: ADD through the shim (cluster network + ${secondary[*]} + host-device)"
for index in 0 1; do
  ip netns add "${pod_ns[$index]}"; created_ns+=("${pod_ns[$index]}")
  result=$(cni ADD "$index") || fail "ADD of ${pods[$index]}: $result"
  echo "   ${pods[$index]}: CNI result (cluster network): $(printf '%s' "$result" | node -e 'const r=JSON.parse(require("fs").readFileSync(0,"utf8"));console.log((r.ips||[]).map(i=>i.address).join(", "))')"
  ip -n "${pod_ns[$index]}" -br addr show | sed 's/^/     /'
  for ifname in eth0 $(seq -f 'net%g' 1 $((${#secondary[@]} + 1))); do
    ip -n "${pod_ns[$index]}" link show "$ifname" >/dev/null 2>&1 || fail "${pods[$index]} has no $ifname"
  done
done
ok "both pods have eth0 (cluster network) and net1..net$((${#secondary[@]} + 1)) (${secondary[*]}, host-device)"

# ---------------------------------------------------------------------------------------------------
heading "network-status of each pod (as the agent reports it)"
nicplex status --socket-dir "$state/run" --output json > "$state/status.json" || fail "nicplex status failed"
status_field() { # status_field POD NAD → first IP of that pod on the NAD default/NAD
  node -e 'const [file, pod, net] = process.argv.slice(1); const s = JSON.parse(require("fs").readFileSync(file, "utf8"));
    const a = s.attachments.find((x) => x.pod === `default/${pod}` && x.network === `default/${net}`); console.log(a?.ips[0] ?? "")' "$state/status.json" "$1" "$2"
}
node -e 'const s = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  for (const c of s.containers) console.log(`   ${c.pod} (${c.containerId}) k8s.v1.cni.cncf.io/network-status:\n` + JSON.stringify(c.networkStatus, null, 2).replace(/^/gm, "     "))' "$state/status.json"

# ---------------------------------------------------------------------------------------------------
heading "ping between the pods over the secondary networks"
pings=0
for network in "${secondary[@]}" hostdev; do
  if [ "$network" = hostdev ]; then target=$(status_field pod-b hostdev-b); via="hostdev-a -> hostdev-b"; else target=$(status_field pod-b "$network"); via="$network"; fi
  [ -n "$target" ] || fail "no address of pod-b on $network in the status"
  echo "   pod-a -> pod-b $target ($via):"
  ip netns exec "${pod_ns[0]}" "${ping_cmd[@]}" -c 3 -w 5 "$target" | sed 's/^/     /' || fail "ping from pod-a to $target ($via) failed"
  pings=$((pings + 1))
done
ok "pod-a reached pod-b over macvlan$([ "${#secondary[@]}" -gt 1 ] && echo ", ipvlan") and the host-device link ($pings networks, 3 pings each)"

# ---------------------------------------------------------------------------------------------------
heading "nicplex status"
nicplex status --socket-dir "$state/run" | sed 's/^/   /'
attached=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1],"utf8")).attachments.length)' "$state/status.json")
ok "nicplex status lists $attached attachments and the pool's two ports held"

# ---------------------------------------------------------------------------------------------------
heading "DEL both pods, then look for leftovers"
for index in 0 1; do
  out=$(cni DEL "$index") || fail "DEL of ${pods[$index]}: $out"
  left=$(ip -n "${pod_ns[$index]}" -o link show | sed -E 's/^[0-9]+: ([^:@]+).*/\1/' | grep -vx lo || true)
  [ -z "$left" ] || fail "${pods[$index]} still has: $left"
  ip netns del "${pod_ns[$index]}"
  echo "   ${pods[$index]}: DEL ok, only lo was left; namespace removed"
done
for link in hd-a hd-b; do ip -n "$node_ns" link show "$link" >/dev/null 2>&1 || fail "$link did not come back to the node namespace"; done
echo "   hd-a and hd-b are back in the node namespace under their names"
leases=$(find "$state/ipam" -type f -name '[0-9]*' 2>/dev/null | wc -l)
caches=$(find "$state/cache" -type f 2>/dev/null | wc -l)
held=$(find "$state/allocations" -type f 2>/dev/null | wc -l)
[ "$leases" = 0 ] || fail "$leases IPAM lease(s) left in $state/ipam"
[ "$caches" = 0 ] || fail "$caches cache file(s) left in $state/cache"
[ "$held" = 0 ] || fail "$held device(s) still allocated in $state/allocations"
echo "   IPAM leases: 0, nicplex cache files: 0, pool ports held: 0"
nicplex status --socket-dir "$state/run" --output json > "$state/status.json" || fail "nicplex status failed"
attached=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1],"utf8")).attachments.length)' "$state/status.json")
[ "$attached" = 0 ] || fail "nicplex status still lists $attached attachments"
echo "   nicplex status: 0 attachments"
ok "DEL left no interface, lease, cache file or allocation; the host-device NICs are back"

# ---------------------------------------------------------------------------------------------------
heading "stop the agent and remove the node"
stop_agent
[ ! -e "$state/net.d/00-nicplex.conf" ] || fail "the agent left its conf behind"
[ ! -e "$state/run/nicplex.sock" ] || fail "the agent left its socket behind"
cleanup
trap - EXIT
left=$(ip netns list | sed 's/ .*//' | grep "^$tag-" || true)
[ -z "$left" ] || fail "network namespaces left: $left"
host_after=$(host_snapshot)
[ "$host_before" = "$host_after" ] || fail "the host's links, addresses or routes changed: $(diff <(echo "$host_before") <(echo "$host_after") | grep '^[<>]' | tr '\n' ' ')"
[ ! -e "$state" ] || fail "$state is still there"
ok "agent stopped (conf and socket removed), namespaces and $state gone, host links/addresses/routes unchanged"

printf '\n== summary\n'
for line in "${summary[@]}"; do printf '   - %s\n' "$line"; done
printf '   - %s\n' "$ipvlan_note"
printf 'demo passed in %s (after set-up)\n' "$(elapsed)"
