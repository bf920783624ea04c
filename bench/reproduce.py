"""How long the papers' experiments take, and what they find: `manage.py reproduce --here` in a throw-away data
directory (SQLite), then the time per experiment and per step kind, CPU seconds, and the report's claims.

    python bench/reproduce.py                           # the quick profile on digits-32, 3 seeds (the README figure)
    python bench/reproduce.py --seeds 1 --experiments methods,reuse

The last line is one JSON object with every figure.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def manage(env: dict, *args: str) -> str:
    done = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"manage.py {args[0]} failed ({done.returncode}):\n{done.stdout[-2000:]}{done.stderr[-4000:]}")
    return done.stdout


def summary(env: dict) -> dict:
    script = ("import json; from modules_registry.models import Experiment; e = Experiment.objects.latest('pk'); "
              "print(json.dumps({'seconds': e.seconds, 'steps': e.settings['steps'], 'claims': e.report['claims'], "
              "'id': e.pk}))")
    return json.loads(manage(env, "shell", "-c", script).strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--dataset", default="digits-32")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--experiments", default="methods,patching,reuse,accuracy,cost")
    parser.add_argument("--keep", help="a data directory to keep (default: a temporary one)")
    args = parser.parse_args()
    data_dir = Path(args.keep or tempfile.mkdtemp(prefix="hub-reproduce-"))
    env = {**os.environ, "HUB_DATA_DIR": str(data_dir)}
    env.pop("DATABASE_URL", None)
    manage(env, "migrate", "--noinput")
    load = os.getloadavg()[0]
    started = time.perf_counter()
    manage(env, "reproduce", "--profile", args.profile, "--dataset", args.dataset, "--seeds", str(args.seeds),
           "--experiments", args.experiments, "--here")
    wall = time.perf_counter() - started
    found = summary(env)
    by_kind: dict[str, list[float]] = {}
    for step in found["steps"]:
        by_kind.setdefault(step["kind"], [0.0, 0.0, 0])
        by_kind[step["kind"]][0] += step["seconds"]
        by_kind[step["kind"]][1] += step["cpu_seconds"]
        by_kind[step["kind"]][2] += 1
    print(f"{args.profile} profile on {args.dataset}, {args.seeds} seed(s), {args.experiments}: "
          f"{wall / 60:.1f} min wall (load average {load:.1f} at the start, {os.getloadavg()[0]:.1f} at the end)")
    for kind, (seconds, cpu, count) in sorted(by_kind.items(), key=lambda kv: -kv[1][0]):
        print(f"  {kind:10s} {count:3d} steps  {seconds:8.0f} s wall  {cpu:8.0f} s CPU")
    for claim in found["claims"]:
        ours = claim["ours"]
        shown = f"{ours['mean']:+.2f} ± {ours['std']:.2f} (n={ours['n']})" if ours else "—"
        print(f"  {claim['claim'][:70]:70s} paper {claim['paper']:+7.2f}  ours {shown:24s} {claim['verdict']}")
    print(json.dumps({"bench": "reproduce", "profile": args.profile, "dataset": args.dataset, "seeds": args.seeds,
                      "experiments": args.experiments, "wall_seconds": round(wall, 1), "load_start": load,
                      "steps_by_kind": by_kind, "claims": found["claims"], "data_dir": str(data_dir)}))


if __name__ == "__main__":
    main()
