#!/usr/bin/env bash
# The whole test suite: set-up, then every tier this machine supports (see test/run-tiers.ts).
set -uo pipefail
cd "$(dirname "$0")/.."
if ! bash test/setup.sh; then
  echo "setup failed: see the messages above"
  echo "0 passed, 1 failed"
  exit 1
fi
exec node dist/test/run-tiers.js "$@"
