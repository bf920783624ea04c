"""Load test of the web tier: gunicorn against a throw-away hub, on SQLite and on PostgreSQL (#19.4).

For each database: migrate and seed a fresh hub (bench/load_seed.py: real models, decompositions and builds made by
the real jobs, about a minute), start gunicorn (--workers sync workers), then

1. reads: --clients concurrent clients send --requests requests in all (lists, details, search, HTML pages,
   downloads), and the web tier's RSS (master and workers summed) and whether any worker has loaded torch;
2. mixed: the same plus build estimates and a few builds (estimates build a network to count its parameters:
   the first one in a worker loads torch, so the RSS after this phase includes it);
3. downloads: --downloads concurrent downloads of the largest blob (a --large-mb MB ONNX upload), each read to the
   end and size-checked, with the web tier's RSS before, at its peak (sampled every 50 ms) and after.

Prints, per phase, errors (any answer other than the expected status, any exception), p50/p95/p99 per kind of
request and overall, requests/s; and the lines of gunicorn's log that say "database is locked" or "Traceback".
PostgreSQL: --postgres-url names a server (default postgres://postgres:hub-test@127.0.0.1:5432); a fresh database
is created for the run and dropped after it; skipped with a note when the server cannot be reached.

    python bench/load.py                       # both databases, 32 clients, 1,280 requests per phase
    python bench/load.py --db sqlite --requests 2000
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"


# -- the web tier's processes ---------------------------------------------------------------------------------

def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def rss_bytes(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def tier_rss(master: int) -> int:
    return rss_bytes(master) + sum(rss_bytes(pid) for pid in children(master))


def workers_with_torch(master: int) -> int:
    """How many gunicorn workers have torch's library mapped (loaded by an import of torch)."""
    count = 0
    for pid in children(master):
        try:
            count += "libtorch" in Path(f"/proc/{pid}/maps").read_text()
        except OSError:
            pass
    return count


# -- the client -------------------------------------------------------------------------------------------------

class Client:
    def __init__(self, port: int, token: str | None):
        self.port, self.token = port, token

    def request(self, method: str, path: str, body: dict | None = None) -> tuple[int, int]:
        """(status, bytes read); the body is read to its end."""
        connection = http.client.HTTPConnection(HOST, self.port, timeout=120)
        headers = {"Accept": "application/json, text/html"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        try:
            connection.request(method, path, payload, headers)
            response = connection.getresponse()
            size = 0
            while chunk := response.read(1 << 16):
                size += len(chunk)
            return response.status, size
        finally:
            connection.close()


def request_mix(seed: dict, *, mixed: bool) -> list[tuple[str, int, object]]:
    """(kind, weight, function(rng) -> (method, path, body, expected statuses))."""
    ids = {k: seed[k] for k in ("models", "modules", "builds", "decompositions")}
    modules, builds = seed["modules"], seed["builds"]
    get = lambda path: ("GET", path, None, {200})  # noqa: E731

    def pick(key):
        return lambda rng: rng.choice(ids[key])

    def lists(rng):
        return get(rng.choice(["/api/models/", "/api/modules/?page_size=50", "/api/decompositions/", "/api/builds/",
                               "/api/datasets/", "/api/modules/?ordering=-f1&page=2&page_size=5"]))

    def details(rng):
        kind = rng.choice(["models", "modules", "builds", "decompositions"])
        return get(f"/api/{kind}/{pick(kind)(rng)}/")

    def search(rng):
        digit = rng.randrange(10)
        return get(rng.choice([f"/api/modules/?class_name={digit}&ordering=kept_kernels", "/api/models/?search=bench",
                               f"/api/modules/?search={digit}", f"/api/builds/?class_name={digit}",
                               "/api/models/?architecture=rescnn&file_format=safetensors"]))

    def pages(rng):
        return get(rng.choice(["/", "/models/", f"/modules/?q={rng.randrange(10)}", f"/models/{pick('models')(rng)}/",
                               f"/builds/{pick('builds')(rng)}/", f"/decompositions/{pick('decompositions')(rng)}/",
                               "/builds/", "/datasets/"]))

    def downloads(rng):
        return get(rng.choice([f"/api/builds/{rng.choice(builds)}/onnx/", f"/api/modules/{rng.choice(modules)}/weights/",
                               f"/api/models/{rng.choice(ids['models'])}/weights/"]))

    by_class: dict[str, list[int]] = defaultdict(list)
    for module, class_name in seed["module_classes"].items():
        by_class[class_name].append(int(module))

    def selection(rng, k: int) -> list[int]:  # one module per class: a class twice is a 400 (duplicate_classes)
        return [rng.choice(by_class[c]) for c in rng.sample(sorted(by_class), k)]

    def estimate(rng):
        return ("POST", "/api/builds/estimate/", {"modules": selection(rng, rng.randint(2, 4))}, {200})

    def build(rng):  # a new selection queues a job (202); one made before answers 200 at once
        return ("POST", "/api/builds/compose/", {"modules": selection(rng, 2), "strategy": "ensemble"}, {200, 202})

    mix = [("list", 30, lists), ("detail", 25, details), ("search", 15, search), ("page", 12, pages),
           ("download", 10, downloads)]
    if mixed:
        mix += [("estimate", 7, estimate), ("build", 1, build)]
    return mix


def run_phase(port: int, seed: dict, *, clients: int, requests: int, mixed: bool, rng_seed: int) -> dict:
    mix = request_mix(seed, mixed=mixed)
    kinds, weights = [m[0] for m in mix], [m[1] for m in mix]
    makers = {m[0]: m[2] for m in mix}
    timings: dict[str, list[float]] = defaultdict(list)
    errors: list[str] = []
    lock = threading.Lock()
    per_client = [requests // clients + (1 if i < requests % clients else 0) for i in range(clients)]

    def one_client(index: int) -> None:
        rng = random.Random(rng_seed * 1000 + index)
        client = Client(port, seed["token"] if index % 2 == 0 else None)  # half with a token, half anonymous
        for _ in range(per_client[index]):
            kind = rng.choices(kinds, weights)[0]
            method, path, body, expected = makers[kind](rng)
            if kind == "build" and not client.token:
                client = Client(port, seed["token"])  # builds need a write token
            started = time.perf_counter()
            try:
                status, _ = client.request(method, path, body)
                problem = None if status in expected else f"{method} {path} -> {status}"
            except (OSError, http.client.HTTPException) as exc:
                problem = f"{method} {path} -> {exc.__class__.__name__}: {exc}"
            elapsed = time.perf_counter() - started
            with lock:
                timings[kind].append(elapsed)
                if problem:
                    errors.append(problem)

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(one_client, range(clients)))
    wall = time.perf_counter() - started
    every = [t for values in timings.values() for t in values]
    return {"requests": len(every), "errors": errors, "seconds": wall, "per_second": len(every) / wall,
            "kinds": {kind: summary(values) for kind, values in sorted(timings.items())}, "overall": summary(every)}


def summary(values: list[float]) -> dict:
    ordered = sorted(values)

    def at(q):
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    return {"n": len(ordered), "p50": at(0.50), "p95": at(0.95), "p99": at(0.99), "mean": statistics.fmean(ordered) * 1000}


def concurrent_downloads(port: int, seed: dict, master: int, count: int) -> dict:
    path, expected = f"/api/models/{seed['large_model']}/weights/", seed["large_bytes"]
    samples, stop = [], threading.Event()

    def sample():
        while not stop.is_set():
            samples.append(tier_rss(master))
            time.sleep(0.05)

    before = tier_rss(master)
    sampler = threading.Thread(target=sample)
    sampler.start()
    started = time.perf_counter()
    with ThreadPoolExecutor(count) as pool:
        answers = list(pool.map(lambda _: Client(port, seed["token"]).request("GET", path), range(count)))
    seconds = time.perf_counter() - started
    stop.set()
    sampler.join()
    after = tier_rss(master)
    bad = [a for a in answers if a != (200, expected)]
    return {"count": count, "bytes_each": expected, "seconds": seconds, "bad": bad, "rss_before": before,
            "rss_peak": max(samples + [before, after]), "rss_after": after}


# -- one throw-away hub -----------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def hub_env(data_dir: Path, database_url: str | None) -> dict:
    env = {**os.environ, "HUB_DATA_DIR": str(data_dir), "DEBUG": "0", "SECRET_KEY": "load-test-only",
           "SECURE_SSL_REDIRECT": "0", "ALLOWED_HOSTS": HOST, "DJANGO_SETTINGS_MODULE": "hub.settings",
           # The throttles are a per-process brake; the load test measures the server, not the brake.
           "HUB_THROTTLE_ANON": "1000000/min", "HUB_THROTTLE_USER": "1000000/min", "HUB_LOG_LEVEL": "WARNING",
           # The builds of the mix queue jobs that no worker runs here: the per-user job quota would refuse them.
           "HUB_QUOTA_JOBS": "0"}
    env.pop("DATABASE_URL", None)
    if database_url:
        env["DATABASE_URL"] = database_url
    return env


def wait_until_up(port: int, process: subprocess.Popen, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("gunicorn exited before serving")
        try:
            if Client(port, None).request("GET", "/api/models/")[0] == 200:
                return
        except OSError:
            time.sleep(0.3)
    raise SystemExit("gunicorn did not answer in time")


def start_gunicorn(env: dict, port: int, workers: int, worker_class: str, log: Path) -> subprocess.Popen:
    command = [sys.executable, "-m", "gunicorn", "hub.wsgi:application", "--bind", f"{HOST}:{port}",
               "--workers", str(workers), "--worker-class", worker_class, "--timeout", "120", "--error-logfile", str(log)]
    if worker_class == "gthread":
        command += ["--threads", "4"]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)


def run_one(db: str, database_url: str | None, args) -> dict:
    data_dir = Path(tempfile.mkdtemp(prefix=f"hub-load-{db}-"))
    env = hub_env(data_dir, database_url)
    try:
        subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
        seeded = subprocess.run([sys.executable, "bench/load_seed.py", str(args.large_mb)], cwd=ROOT, env=env,
                                check=True, stdout=subprocess.PIPE, text=True)
        seed = json.loads(seeded.stdout.strip().splitlines()[-1])
        port, log = free_port(), data_dir / "gunicorn.log"
        server = start_gunicorn(env, port, args.workers, args.worker_class, log)
        try:
            wait_until_up(port, server)
            time.sleep(1.0)
            result = {"db": db, "seed_seconds": seed["seconds"], "modules": len(seed["modules"]),
                      "builds": len(seed["builds"]), "large_bytes": seed["large_bytes"],
                      "rss_started": tier_rss(server.pid), "torch_started": workers_with_torch(server.pid)}
            result["reads"] = run_phase(port, seed, clients=args.clients, requests=args.requests, mixed=False,
                                        rng_seed=1)
            result["rss_reads"], result["torch_reads"] = tier_rss(server.pid), workers_with_torch(server.pid)
            result["mixed"] = run_phase(port, seed, clients=args.clients, requests=args.requests, mixed=True,
                                        rng_seed=2)
            result["rss_mixed"], result["torch_mixed"] = tier_rss(server.pid), workers_with_torch(server.pid)
            result["downloads"] = concurrent_downloads(port, seed, server.pid, args.downloads)
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(30)
        text = log.read_text(errors="replace") if log.exists() else ""
        result["log_problems"] = [line for line in text.splitlines()
                                  if "database is locked" in line or "Traceback" in line]
        return result
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def postgres_database(url: str):
    """A context manager: a fresh database on the server at ``url`` (dropped after), or None if unreachable."""
    import contextlib

    import psycopg

    @contextlib.contextmanager
    def fresh():
        name = f"hub_load_{os.getpid()}"
        try:
            admin = psycopg.connect(f"{url}/postgres", autocommit=True, connect_timeout=5)
        except psycopg.OperationalError as exc:
            print(f"PostgreSQL at {url} cannot be reached ({exc}); skipped")
            yield None
            return
        with admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
            admin.execute(f'CREATE DATABASE "{name}"')
            try:
                yield f"{url}/{name}"
            finally:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return fresh()


# -- report -----------------------------------------------------------------------------------------------------

def mb(n: int) -> str:
    return f"{n / 1024**2:,.0f} MB"


def report(result: dict, args) -> None:
    print(f"\n== {result['db']}: gunicorn {args.workers} {args.worker_class} workers, {args.clients} clients "
          f"(seeded in {result['seed_seconds']} s: {result['modules']} modules, {result['builds']} builds)")
    print(f"web tier RSS: started {mb(result['rss_started'])} (workers with torch: {result['torch_started']}), "
          f"after reads {mb(result['rss_reads'])} (with torch: {result['torch_reads']}), after the mix "
          f"{mb(result['rss_mixed'])} (with torch: {result['torch_mixed']})")
    for phase in ("reads", "mixed"):
        figures = result[phase]
        print(f"-- {phase}: {figures['requests']} requests in {figures['seconds']:.1f} s = {figures['per_second']:.0f} "
              f"requests/s, {len(figures['errors'])} errors")
        print(f"   {'kind':<10}{'n':>6}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}")
        for kind, s in [*figures["kinds"].items(), ("overall", figures["overall"])]:
            print(f"   {kind:<10}{s['n']:>6}{s['p50']:>9.0f}{s['p95']:>9.0f}{s['p99']:>9.0f}")
        for problem in figures["errors"][:10]:
            print(f"   error: {problem}")
    d = result["downloads"]
    print(f"-- {d['count']} concurrent downloads of {mb(d['bytes_each'])}: {d['seconds']:.1f} s, {len(d['bad'])} bad; "
          f"web tier RSS before {mb(d['rss_before'])}, peak {mb(d['rss_peak'])}, after {mb(d['rss_after'])} "
          f"(peak - before: {(d['rss_peak'] - d['rss_before']) / 1024**2:+,.0f} MB for "
          f"{d['count'] * d['bytes_each'] / 1024**2:,.0f} MB sent)")
    print(f"-- gunicorn log: {len(result['log_problems'])} 'database is locked' / Traceback lines")
    for line in result["log_problems"][:5]:
        print(f"   {line}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", default="sqlite,postgres", help="sqlite, postgres or both (comma-separated)")
    parser.add_argument("--postgres-url", default="postgres://postgres:hub-test@127.0.0.1:5432")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--requests", type=int, default=1280, help="requests per phase, all clients together")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--worker-class", default="sync", choices=["sync", "gthread"])
    parser.add_argument("--downloads", type=int, default=20)
    parser.add_argument("--large-mb", type=int, default=64)
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    print(f"host: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start")
    results, failed = [], False
    for db in args.db.split(","):
        if db == "sqlite":
            result = run_one("sqlite", None, args)
        else:
            with postgres_database(args.postgres_url) as url:
                if url is None:
                    continue
                result = run_one("postgres", url, args)
        report(result, args)
        results.append(result)
        failed |= bool(result["reads"]["errors"] or result["mixed"]["errors"] or result["downloads"]["bad"]
                       or result["log_problems"])
    print(f"load average {os.getloadavg()[0]:.1f} at the end")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
