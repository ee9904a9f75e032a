#!/usr/bin/env bash
# Everything a fresh Debian 12 machine (as root) needs before nicplex builds and its tests run:
# Debian packages, node modules from the lockfile, the native addon and the TypeScript build.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages per purpose; each tier's requirements check says which one it lacks.
base_packages=(ca-certificates iproute2 python3 make g++ util-linux pci.ids)
integration_packages=(containernetworking-plugins)
e2e_packages=(containerd runc podman crun conmon catatonit uidmap slirp4netns fuse-overlayfs busybox-static tar mmdebstrap binutils curl)
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

# npm ci runs the package's install script, which builds the native addon; `npm run build` below
# only rebuilds what changed since (node-gyp configure build is incremental).
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-fund --no-audit
fi
# The suites are compiled JavaScript: tap's TypeScript plugin (ts-node in every test process on
# Node < 22) is removed, which makes tap rebuild its test class once (test/helpers/tap-runner.ts).
if grep -q '@tapjs/typescript' node_modules/@tapjs/test/test-built/dist/esm/index.js; then
  echo "setup: rebuilding tap's test class without its TypeScript plugin"
  TAP_RCFILE=/dev/null node node_modules/tap/dist/esm/run.mjs build --plugin='!@tapjs/typescript' >/dev/null
fi
if [ ! -x test/runtime-node24/node_modules/.bin/node ]; then
  npm ci --prefix test/runtime-node24 --no-fund --no-audit
fi
npm run --silent build
