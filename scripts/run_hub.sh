#!/usr/bin/env bash
# Runs the web server and one background worker; Ctrl-C (or either one exiting) stops both.
set -u
PY=${PY:-.venv/bin/python}
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8000}

"$PY" manage.py db_worker --queue-name default,gpu --no-reload &
worker=$!
"$PY" manage.py runserver "$HOST:$PORT" --noreload &
server=$!

stop() { kill "$worker" "$server" 2>/dev/null; wait "$worker" "$server" 2>/dev/null; }
trap 'stop; exit 0' INT TERM
echo "Modular CNN Hub: http://$HOST:$PORT  (worker pid $worker, server pid $server; Ctrl-C stops both)"
wait -n "$worker" "$server"
stop
