#!/usr/bin/env bash
# Everything a fresh Debian 12 machine (as root) needs before nicplex builds and its tests run:
# Debian packages, node modules from the lockfile, the native addon and the TypeScript build.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages per purpose; each tier's requirements check says which one it lacks.
base_packages=(ca-certificates iproute2 python3 make g++ util-linux pci.ids)
integration_packages=(containernetworking-plugins)
e2e_packages=(containerd runc podman crun conmon catatonit uidmap slirp4netns fuse-overlayfs busybox-static tar)
lab_packages=(qemu-system-x86 busybox-static cpio xz-utils zstd kmod gcc make binutils libc6-dev libelf1)
fuzz_packages=(clang libclang-rt-14-dev)

wanted=("${base_packages[@]}" "${integration_packages[@]}" "${e2e_packages[@]}" "${lab_packages[@]}" "${fuzz_packages[@]}")
command -v node >/dev/null 2>&1 || wanted+=(nodejs npm)

missing=()
for pkg in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-fund --no-audit
fi
if [ ! -x test/runtime-node24/node_modules/.bin/node ]; then
  npm ci --prefix test/runtime-node24 --no-fund --no-audit
fi
npm run --silent build
