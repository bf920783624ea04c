#!/usr/bin/env bash
# Runs the web server and one background worker per lane (modules_registry/lanes.py): `fast` (imports, evaluations,
# builds, patches) and `default` (training, decomposition), so a short job never waits behind a long one. With
# GPU_WORKERS=N (one per GPU of this machine) also N `gpu` workers, worker i on CUDA_VISIBLE_DEVICES=i, and the hub
# accepts `cuda` jobs (HUB_GPU_DEVICES=1: each gpu worker sees one device). Ctrl-C (or any of them exiting) stops all.
set -u
PY=${PY:-.venv/bin/python}
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8000}
GPU_WORKERS=${GPU_WORKERS:-0}
[ "$GPU_WORKERS" -gt 0 ] && export HUB_GPU_DEVICES=1

pids=()
for lane in fast default; do
  "$PY" manage.py db_worker --queue-name "$lane" --no-reload &
  pids+=($!)
done
for ((i = 0; i < GPU_WORKERS; i++)); do
  CUDA_VISIBLE_DEVICES=$i "$PY" manage.py db_worker --queue-name gpu --no-reload &
  pids+=($!)
done
"$PY" manage.py runserver "$HOST:$PORT" --noreload &
pids+=($!)

stop() { kill "${pids[@]}" 2>/dev/null; wait "${pids[@]}" 2>/dev/null; }
trap 'stop; exit 0' INT TERM
echo "Modular CNN Hub: http://$HOST:$PORT  (workers: fast, default, $GPU_WORKERS gpu; pids ${pids[*]}; Ctrl-C stops all)"
wait -n "${pids[@]}"
stop
