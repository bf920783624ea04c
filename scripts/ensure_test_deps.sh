#!/usr/bin/env bash
# System packages the test suite needs beyond requirements-dev.txt. Idempotent; called by `make test`.
# The browser tests drive Debian's Chromium through Playwright (never `playwright install`: it downloads
# a browser, which fails on closed networks).
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "ensure_test_deps: installing Debian's chromium for the browser tests"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium >/dev/null
  echo "ensure_test_deps: $(/usr/bin/chromium --version 2>/dev/null || echo 'chromium installed')"
else
  echo "ensure_test_deps: /usr/bin/chromium is missing; the browser tests (tests/e2e) will be skipped." >&2
  echo "  Install it with: sudo apt-get update && sudo apt-get install -y chromium" >&2
fi
