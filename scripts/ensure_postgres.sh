#!/usr/bin/env bash
# A PostgreSQL server on loopback for the tests that run against it (`make test` runs them after the SQLite suite).
# Uses a server already listening; else starts an installed Debian cluster; else, as root with apt, installs
# Debian's postgresql and starts it. Prints the DATABASE_URL to use on its last line; exits non-zero (saying why)
# when no server can be had. Idempotent.
set -euo pipefail
HOST=127.0.0.1
PORT=${HUB_TEST_PG_PORT:-5432}
USER_NAME=postgres
PASSWORD=hub-test  # set only on a cluster this script installed; a trust-auth server ignores it

ready() { command -v pg_isready >/dev/null && pg_isready -q -h "$HOST" -p "$PORT"; }

start_cluster() {
  local version
  version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -1)
  [ -n "$version" ] || return 1
  pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null || true
  for _ in $(seq 1 30); do ready && return 0; sleep 0.5; done
  return 1
}

if ! ready && ! start_cluster; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
    echo "ensure_postgres: installing Debian's postgresql for the PostgreSQL test run" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq postgresql >/dev/null
    start_cluster || { echo "ensure_postgres: installed postgresql but could not start it" >&2; exit 1; }
    su postgres -c "psql -q -c \"ALTER USER $USER_NAME PASSWORD '$PASSWORD'\"" >/dev/null
    su postgres -c "createdb test" 2>/dev/null || true
  else
    echo "ensure_postgres: no PostgreSQL server on $HOST:$PORT and cannot install one (needs root and apt-get)" >&2
    exit 1
  fi
fi
echo "postgres://$USER_NAME:$PASSWORD@$HOST:$PORT/test"
