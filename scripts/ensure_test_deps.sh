#!/usr/bin/env bash
# System packages the test suite needs beyond requirements-dev.txt. Idempotent; called by `make test`.
set -euo pipefail
exit 0
