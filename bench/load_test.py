"""Bounded load run on loopback: gunicorn + PostgreSQL + demo data, N concurrent clients.

    .venv/bin/python bench/load_test.py --duration 60 --clients 20 --workers 4

Starts a throwaway PostgreSQL (tests/integration/servers.py), builds the schema and loads the
demo data with the CLI, starts gunicorn on 127.0.0.1, and runs `--clients` threads (each its own
requests.Session) for `--duration` seconds doing a mix of page reads, page lists, pushes (cms
token) and, where the OpenAPI document has them, TM lookups and similar-page queries. Prints
throughput and p50/p95/p99 latency per request kind, and errors, as Markdown. Only loopback
addresses; every loop is bounded by the deadline; everything started is stopped.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.integration.servers import free_port, start_postgres  # noqa: E402

VENV_BIN = Path(sys.executable).parent
LOOKUP_TEXTS = [
    "Melden Sie Ihren Wohnsitz an.",
    "Integrationskurs beim BAMF",
    "Wohngeld beantragen",
    "Kindergarten und Kita",
    "Ausländerbehörde Termin",
]


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def flask_cli(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [str(VENV_BIN / "flask"), "--app", "wsgi", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
        check=True,
    )
    return result.stdout


def wait_for(url: str, deadline_s: float = 60) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


class Recorder:
    def __init__(self) -> None:
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.statuses: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
        self.errors: dict[str, list[str]] = defaultdict(list)
        self.lock = threading.Lock()

    def add(self, kind: str, seconds: float, status: int, error: str | None = None) -> None:
        with self.lock:
            self.latencies[kind].append(seconds)
            self.statuses[kind][status] += 1
            if error and len(self.errors[kind]) < 5:
                self.errors[kind].append(error)


def client_loop(
    number: int,
    base: str,
    token: str,
    pages: list[str],
    kinds: list[str],
    deadline: float,
    recorder: Recorder,
) -> None:
    rng = random.Random(number)  # noqa: S311 — a workload mix, not security
    session = requests.Session()
    auth = {"Authorization": f"Bearer {token}"}
    pushes = 0
    while time.monotonic() < deadline:  # bounded by the deadline
        kind = rng.choice(kinds)
        page = rng.choice(pages)
        if kind == "page_read":
            method, url, kwargs = "GET", f"{base}/api/v1/regions/lkaugsburg/pages/{page}", {}
        elif kind == "page_list":
            offset = rng.randrange(0, 200)
            url = f"{base}/api/v1/regions/lkaugsburg/pages?limit=20&offset={offset}&language=de"
            method, kwargs = "GET", {}
        elif kind == "push":
            pushes += 1
            method = "PUT"
            # Own pages per client: measures writes, not the documented 409/412 contention.
            page_id = f"load-{number}-{pushes % 5}"
            url = f"{base}/api/v1/regions/lkaugsburg/pages/{page_id}/translations/de"
            kwargs = {
                "json": {
                    "title": f"Lasttest {number}",
                    "content": f"<p>Fassung {pushes} von Client {number}.</p>",
                },
                "headers": auth,
            }
        elif kind == "tm_lookup":
            method, url = "POST", f"{base}/api/v1/tm/lookup"
            kwargs = {
                "json": {
                    "text": rng.choice(LOOKUP_TEXTS),
                    "source_language": "de",
                    "target_language": "en",
                },
                "headers": auth,
            }
        else:  # similar
            method = "GET"
            url = f"{base}/api/v1/regions/lkaugsburg/pages/{page}/similar?limit=5"
            kwargs = {}
        started = time.perf_counter()
        try:
            response = session.request(method, url, timeout=30, **kwargs)
            elapsed = time.perf_counter() - started
            error = None if response.status_code < 400 else response.text[:200]
            recorder.add(kind, elapsed, response.status_code, error)
        except requests.RequestException as exc:
            recorder.add(kind, time.perf_counter() - started, 0, repr(exc))


def percentile(values: list[float], q: float) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def report(recorder: Recorder, duration: float, args, command: str, routes: list[str]) -> str:
    lines = [
        f"- machine: {os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}), {cpu_model()}",
        f"- python {platform.python_version()}, {platform.platform()}",
        f"- command: `{command}`",
        f"- gunicorn workers: {args.workers} (sync), clients: {args.clients}, "
        f"measured: {duration:.1f} s, embedding model: {args.embedding_model}",
        f"- optional routes present: {', '.join(routes) or 'none'}",
        "",
        "| kind | requests | req/s | p50 ms | p95 ms | p99 ms | non-2xx |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    total = 0
    for kind in sorted(recorder.latencies):
        values = recorder.latencies[kind]
        total += len(values)
        bad = {s: c for s, c in recorder.statuses[kind].items() if not 200 <= s < 300}
        lines.append(
            f"| {kind} | {len(values)} | {len(values) / duration:.1f} | "
            f"{percentile(values, 50) * 1000:.0f} | {percentile(values, 95) * 1000:.0f} | "
            f"{percentile(values, 99) * 1000:.0f} | {bad or '—'} |"
        )
    lines.append(f"| **all** | {total} | {total / duration:.1f} | | | | |")
    for kind, errors in recorder.errors.items():
        for error in errors:
            lines.append(f"\n- {kind} error sample: `{error.strip()[:200]}`")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument(
        "--embedding-model",
        default="fake",
        help="TM_EMBEDDING_MODEL for the server ('fake': deterministic vectors, no model load)",
    )
    args = parser.parse_args()
    if args.duration > 600 or args.clients > 200:
        parser.error("bounded run: --duration <= 600, --clients <= 200")
    command = "python bench/load_test.py " + " ".join(sys.argv[1:])

    base_dir = Path(tempfile.mkdtemp(prefix="tm-load-"))
    postgres = start_postgres(base_dir / "pg")
    if postgres is None:
        sys.exit("PostgreSQL is not installed (apt-get install postgresql)")
    gunicorn = None
    try:
        env = {
            **os.environ,
            "TM_DATABASE_URL": postgres.url,
            "TM_EMBEDDING_MODEL": args.embedding_model,
        }
        env.pop("TM_REDIS_URL", None)
        flask_cli(env, "db", "upgrade")
        started = time.perf_counter()
        flask_cli(env, "tm", "load-demo")
        print(f"demo loaded in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        issued = flask_cli(env, "tm", "token", "create", "--role", "cms", "--region", "lkaugsburg")
        token = next(line for line in issued.split() if line.startswith("tm_"))
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        gunicorn = subprocess.Popen(
            [
                str(VENV_BIN / "gunicorn"),
                "-w",
                str(args.workers),
                "-b",
                f"127.0.0.1:{port}",
                "--timeout",
                "60",
                "wsgi:app",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=open(base_dir / "gunicorn.log", "w"),  # noqa: SIM115
        )
        wait_for(f"{base}/api/v1/health")
        spec = requests.get(f"{base}/api/openapi.json", timeout=10).json()["paths"]
        kinds = ["page_read"] * 4 + ["page_list"] * 3 + ["push"] * 2
        routes = []
        if "/api/v1/tm/lookup" in spec:
            kinds += ["tm_lookup"] * 2
            routes.append("POST /api/v1/tm/lookup")
        if "/api/v1/regions/{region}/pages/{external_id}/similar" in spec:
            kinds += ["similar"]
            routes.append("GET …/similar")
        listing = requests.get(
            f"{base}/api/v1/regions/lkaugsburg/pages?limit=200&language=de", timeout=30
        ).json()
        pages = [item["external_id"] for item in listing["items"]]
        assert pages, "demo data has no lkaugsburg pages"
        # Check the token works before loading.
        probe = requests.put(
            f"{base}/api/v1/regions/lkaugsburg/pages/load-probe/translations/de",
            json={"title": "probe"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        assert probe.status_code in (200, 201), probe.text

        recorder = Recorder()
        deadline = time.monotonic() + args.duration
        started = time.monotonic()
        threads = [
            threading.Thread(
                target=client_loop,
                args=(number, base, token, pages, kinds, deadline, recorder),
                daemon=True,
            )
            for number in range(args.clients)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=args.duration + 60)
        duration = time.monotonic() - started
        print(report(recorder, duration, args, command, routes))
    finally:
        if gunicorn is not None:
            gunicorn.terminate()
            try:
                gunicorn.wait(timeout=20)
            except subprocess.TimeoutExpired:
                gunicorn.kill()
        postgres.stop()


if __name__ == "__main__":
    main()
