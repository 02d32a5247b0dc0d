"""Bounded load run on loopback: gunicorn + PostgreSQL (+ Redis and rq workers) + demo data
and `--units` synthetic translation-memory units, N concurrent clients.

    .venv/bin/python bench/load_test.py --duration 60 --clients 20 --workers 4 \
        --units 100000 --redis --rq-workers 1 [--rate 40] [--worker-class gthread --threads N]

Starts a throwaway PostgreSQL (tests/integration/servers.py), builds the schema, loads the demo
data and imports `--units` generated German→English units (a TMX file, through the CLI), starts
gunicorn on 127.0.0.1 and, with `--redis`, a redis-server and `--rq-workers` rq workers, so the
jobs a push starts leave the web workers. Then `--clients` threads (each its own connection)
run for `--duration` seconds doing a mix of page reads, page lists, pushes (cms token), TM
lookups and similar-page queries (`--only KIND`: that kind alone). Without `--rate` every
client sends its next request as soon as the last one is answered (closed loop: the machine is
saturated and latency is mostly queueing); with `--rate R` the clients together send R
requests/s at random (Poisson) intervals, the way independent editors do, and latency is
measured at that load, from the moment each request was due (a client still waiting for its
last answer sends late, and the wait counts). Prints throughput, p50/p95/p99 latency per
request kind, errors, and the CPU time per request of the web workers, PostgreSQL, Redis, the
rq workers, the clients and the whole machine, as Markdown. Only loopback addresses; every
loop is bounded by the deadline; everything started is stopped.

The clients share the machine's cores with the server, so what they cost is taken from it.
`--client http.client` (the default) sends each request with the standard library, headers
and body in one write; `--client requests` with a `requests.Session`, as the runs before
2026-12-07 did, which cost ≈ 3 times the client CPU per lookup and slowed the web workers
beside it (docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scratch import scratch_folder  # noqa: E402

from tests.integration.servers import free_port, start_postgres, start_redis  # noqa: E402

VENV_BIN = Path(sys.executable).parent
LOOKUP_TEXTS = [
    "Melden Sie Ihren Wohnsitz an.",
    "Integrationskurs beim BAMF",
    "Wohngeld beantragen",
    "Kindergarten und Kita",
    "Ausländerbehörde Termin",
]


def corpus_sentences() -> list[str]:
    """German sentences (4–30 words) of the demo dump, sorted."""
    import gzip
    import json
    import re

    from memory.segmentation import html_to_text

    with gzip.open(ROOT / "tm_service/demo/lkaugsburg_de_pages.json.gz", "rt") as file:
        pages = json.load(file)
    return sorted(
        {
            line.strip()
            for page in pages
            for line in re.split(r"(?<=[.!?])\s+|\n", html_to_text(page["content"]))
            if 4 <= len(line.split()) <= 30
        }
    )


def generated_sources(count: int, seed: int = 7) -> Iterator[str]:
    """`count` distinct German sources built from the demo dump's German sentences.

    Each is a corpus sentence with two vocabulary words appended (forms stay distinct; a
    number would not do, numbers are placeholders), so lookups of corpus-like sentences meet a
    realistic crowd of near matches.
    """
    import re

    rng = random.Random(seed)  # noqa: S311 — test data, not security
    sentences = corpus_sentences()
    vocabulary = sorted({w for s in sentences for w in re.findall(r"[A-Za-zÄÖÜäöüß]{4,}", s)})
    seen: set[str] = set()
    while len(seen) < count:
        source = f"{rng.choice(sentences)} {rng.choice(vocabulary)} {rng.choice(vocabulary)}"
        if source not in seen:
            seen.add(source)
            yield source


def write_units_tmx(path: Path, count: int, seed: int = 7) -> None:
    """`count` distinct German→English units: `generated_sources`, each with a target."""
    from xml.sax.saxutils import escape

    with path.open("w", encoding="utf-8") as out:
        out.write(
            '<?xml version="1.0" encoding="UTF-8"?>\n<tmx version="1.4"><header '
            'creationtool="load-test" creationtoolversion="1" datatype="plaintext" '
            'segtype="sentence" adminlang="en" srclang="de" o-tmf="none"/><body>\n'
        )
        for number, source in enumerate(generated_sources(count, seed), start=1):
            target = f"EN {number}: {source}"
            out.write(
                f'<tu><tuv xml:lang="de"><seg>{escape(source)}</seg></tuv>'
                f'<tuv xml:lang="en"><seg>{escape(target)}</seg></tuv></tu>\n'
            )
        out.write("</body></tmx>\n")


def lookup_text(rng: random.Random, pool: list[str]) -> str:
    """A lookup's text as the benchmarks send it: a sentence of `pool`, with one word left out
    when it has more than four (a fuzzy lookup)."""
    words = rng.choice(pool).split()
    if len(words) > 4:
        del words[rng.randrange(len(words))]
    return " ".join(words)


def load_memory(env: dict[str, str], folder: Path, units: int, *, embed: bool = False) -> None:
    """On the database of `env`: the schema, the demo data and its units, `units` generated
    German→English units (`write_units_tmx`, imported through `flask tm tmx-import`, each unit's
    sentence embedded only with `embed`), then the fuzzy index snapshot every web worker maps
    (what a deployment's job builds). Progress on stderr."""
    flask_cli(env, "db", "upgrade")
    started = time.perf_counter()
    flask_cli(env, "tm", "load-demo")
    flask_cli(env, "tm", "rebuild-units")
    print(f"demo loaded in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    if units:
        tmx = folder / "units.tmx"
        write_units_tmx(tmx, units)
        started = time.perf_counter()
        options = ["--license", "CC BY 4.0", "--attribution", "generated benchmark units"]
        if not embed:
            options.append("--no-embed")
        print(flask_cli(env, "tm", "tmx-import", str(tmx), *options).strip(), file=sys.stderr)
        print(f"{units} units imported in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    print(flask_cli(env, "tm", "rebuild-index").strip()[:300], file=sys.stderr)


def cms_token(env: dict[str, str]) -> str:
    """A new cms token of Landkreis Augsburg on the database of `env`."""
    issued = flask_cli(env, "tm", "token", "create", "--role", "cms", "--region", "lkaugsburg")
    return next(word for word in issued.split() if word.startswith("tm_"))


def worker_description(args: argparse.Namespace) -> str:
    """How the gunicorn workers serve requests, for the report."""
    if args.worker_class == "gthread":
        return f"gthread, {args.threads} thread(s) each, connections kept open"
    return "sync, a connection per request"


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


CLIENT_ERRORS = (OSError, http.client.HTTPException, requests.RequestException)


class StandardClient:
    """One client's connection through the standard library's `http.client`: the headers and
    a JSON body go out in one write; a connection the server closes (a sync worker closes each)
    is opened again for the next request, one it keeps (gthread) is reused."""

    def __init__(self, base: str) -> None:
        parts = urlsplit(base)
        self.connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)

    def request(
        self, method: str, path: str, body: object = None, headers: dict | None = None
    ) -> tuple[int, str]:
        headers = dict(headers or {})
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        reused = self.connection.sock is not None
        try:
            self.connection.request(method, path, body=data, headers=headers)
            response = self.connection.getresponse()
            payload = response.read()
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
            self.connection.close()
            if not reused:
                raise
            # A kept connection the server closed while idle (gthread's keep-alive timeout):
            # sent again once on a new one, as requests' connection pool does.
            return self.request(method, path, body, headers)
        except CLIENT_ERRORS:
            self.connection.close()
            raise
        return response.status, payload.decode("utf-8", "replace")


class RequestsClient:
    """The same requests through a `requests.Session` (`--client requests`)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.session = requests.Session()

    def request(
        self, method: str, path: str, body: object = None, headers: dict | None = None
    ) -> tuple[int, str]:
        response = self.session.request(
            method, self.base + path, json=body, headers=headers, timeout=30
        )
        return response.status_code, response.text


CLIENTS = {"http.client": StandardClient, "requests": RequestsClient}


def client_loop(
    number: int,
    base: str,
    token: str,
    pages: list[str],
    kinds: list[str],
    deadline: float,
    recorder: Recorder,
    rate: float | None = None,
    client: str = "http.client",
) -> None:
    """One client; `rate` (requests/s of this client): Poisson arrivals, each request's latency
    counted from when it was due; else closed loop, counted from when it was sent."""
    rng = random.Random(number)  # noqa: S311 — a workload mix, not security
    session = CLIENTS[client](base)
    auth = {"Authorization": f"Bearer {token}"}
    pushes = 0
    next_at = time.monotonic()
    while time.monotonic() < deadline:  # bounded by the deadline
        if rate:
            next_at += rng.expovariate(rate)
            pause = next_at - time.monotonic()
            if pause > 0:
                time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
            if time.monotonic() >= deadline:
                break
        kind = rng.choice(kinds)
        page = rng.choice(pages)
        if kind == "page_read":
            method, url, kwargs = "GET", f"/api/v1/regions/lkaugsburg/pages/{page}", {}
        elif kind == "page_list":
            offset = rng.randrange(0, 200)
            url = f"/api/v1/regions/lkaugsburg/pages?limit=20&offset={offset}&language=de"
            method, kwargs = "GET", {}
        elif kind == "push":
            pushes += 1
            method = "PUT"
            # Own pages per client: measures writes, not the documented 409/412 contention.
            page_id = f"load-{number}-{pushes % 5}"
            url = f"/api/v1/regions/lkaugsburg/pages/{page_id}/translations/de"
            kwargs = {
                "body": {
                    "title": f"Lasttest {number}",
                    "content": f"<p>Fassung {pushes} von Client {number}.</p>",
                },
                "headers": auth,
            }
        elif kind == "tm_lookup":
            method, url = "POST", "/api/v1/tm/lookup"
            kwargs = {
                "body": {
                    "text": lookup_text(rng, LOOKUP_TEXTS),
                    "source_language": "de",
                    "target_language": "en",
                },
                "headers": auth,
            }
        else:  # similar
            method = "GET"
            url = f"/api/v1/regions/lkaugsburg/pages/{page}/similar?limit=5"
            kwargs = {}
        started = next_at if rate else time.monotonic()
        try:
            status, text = session.request(method, url, **kwargs)
            error = None if status < 400 else text[:200]
            recorder.add(kind, time.monotonic() - started, status, error)
        except CLIENT_ERRORS as exc:
            recorder.add(kind, time.monotonic() - started, 0, repr(exc))


def _process_table() -> dict[int, tuple[int, float]]:
    """pid → (parent pid, CPU seconds used: user + system) of every process on the machine."""
    ticks = os.sysconf("SC_CLK_TCK")
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # After the command name: state, ppid, … utime (12th), stime (13th).
        table[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / ticks)
    return table


def tree_cpu_seconds(roots: dict[str, int]) -> dict[str, float]:
    """CPU seconds used so far by each named process and its descendants, plus the machine's."""
    table = _process_table()
    children: dict[int, list[int]] = defaultdict(list)
    for pid, (parent, _) in table.items():
        children[parent].append(pid)
    used = {}
    for name, root in roots.items():
        stack, total = [root], 0.0
        while stack:
            pid = stack.pop()
            total += table.get(pid, (0, 0.0))[1]
            stack.extend(children.get(pid, ()))
        used[name] = total
    used["load-test clients (this process)"] = table.get(os.getpid(), (0, 0.0))[1]
    busy = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    # user nice system idle iowait irq softirq steal: everything but idle and iowait.
    values = [int(v) for v in busy[:8]]
    used["machine (clients included)"] = (sum(values) - values[3] - values[4]) / os.sysconf(
        "SC_CLK_TCK"
    )
    return used


def percentile(values: list[float], q: float) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def report(
    recorder: Recorder,
    duration: float,
    args,
    command: str,
    routes: list[str],
    cpu: dict[str, float] | None = None,
) -> str:
    lines = [
        f"- machine: {os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}), {cpu_model()}",
        f"- python {platform.python_version()}, {platform.platform()}",
        f"- command: `{command}`",
        f"- gunicorn workers: {args.workers} ({worker_description(args)}), "
        f"clients: {args.clients} ({args.client}), measured: {duration:.1f} s, "
        f"embedding model: {args.embedding_model}",
        f"- translation-memory units: demo data + {args.units:,} generated; jobs: "
        + (f"Redis + {args.rq_workers} rq worker(s)" if args.redis else "in the web workers"),
        "- offered load: "
        + (
            f"{args.rate:g} requests/s in all (Poisson), latency from each request's due time"
            if args.rate
            else "closed loop"
        ),
        f"- optional routes present: {', '.join(routes) or 'none'}",
        "- requests: " + (f"only {args.only}" if args.only else "the mix"),
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
    if cpu and total:
        lines += ["", "| CPU per request, measured window | ms |", "|---|---:|"]
        lines += [f"| {name} | {seconds * 1000 / total:.1f} |" for name, seconds in cpu.items()]
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
        "--worker-class",
        choices=["sync", "gthread"],
        default="sync",
        help="gunicorn worker class (gthread keeps client connections open between requests)",
    )
    parser.add_argument("--threads", type=int, default=1, help="threads per gthread worker")
    parser.add_argument(
        "--client",
        choices=sorted(CLIENTS),
        default="http.client",
        help="how the clients send requests (requests: a requests.Session, as runs before "
        "2026-12-07 did)",
    )
    parser.add_argument(
        "--embedding-model",
        default="fake",
        help="TM_EMBEDDING_MODEL for the server ('fake': deterministic vectors, no model load)",
    )
    parser.add_argument("--units", type=int, default=0, help="generated TM units to import")
    parser.add_argument("--warmup", type=float, default=15.0, help="seconds, not measured")
    parser.add_argument("--redis", action="store_true", help="jobs to rq workers via Redis")
    parser.add_argument("--rq-workers", type=int, default=1)
    parser.add_argument(
        "--rate", type=float, default=None, help="total requests/s (default: closed loop)"
    )
    parser.add_argument(
        "--only",
        choices=["page_read", "page_list", "push", "tm_lookup", "similar"],
        help="send only this kind of request (default: the mix)",
    )
    args = parser.parse_args()
    if args.duration > 600 or args.clients > 200:
        parser.error("bounded run: --duration <= 600, --clients <= 200")
    command = "python bench/load_test.py " + " ".join(sys.argv[1:])

    base_dir = scratch_folder("tm-load-")
    postgres = start_postgres(base_dir / "pg")
    if postgres is None:
        sys.exit("PostgreSQL is not installed (apt-get install postgresql)")
    gunicorn = None
    redis = None
    workers: list[subprocess.Popen] = []
    try:
        env = {
            **os.environ,
            "TM_DATABASE_URL": postgres.url,
            "TM_EMBEDDING_MODEL": args.embedding_model,
            "TM_INDEX_DIR": str(base_dir / "tm-index"),
        }
        env.pop("TM_REDIS_URL", None)
        load_memory(env, base_dir, args.units)
        if args.redis:
            redis = start_redis(base_dir / "redis")
            if redis is None:
                sys.exit("redis-server is not installed (apt-get install redis-server)")
            env["TM_REDIS_URL"] = redis.url
            for number in range(args.rq_workers):
                workers.append(
                    subprocess.Popen(
                        [str(VENV_BIN / "flask"), "--app", "wsgi", "tm", "worker"],
                        cwd=ROOT,
                        env=env,
                        stdout=subprocess.DEVNULL,
                        stderr=open(base_dir / f"worker{number}.log", "w"),  # noqa: SIM115
                    )
                )
        token = cms_token(env)
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
                "--worker-class",
                args.worker_class,
                "--threads",
                str(args.threads),
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
        if args.only:
            kinds = [args.only]
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

        LOOKUP_TEXTS.extend(corpus_sentences())
        # Warm-up, not measured: each web worker maps the fuzzy index snapshot and builds its
        # similarity index on its first query (seconds at 100 000 units).
        warm_deadline = time.monotonic() + args.warmup
        warmers = [
            threading.Thread(
                target=client_loop,
                args=(
                    1000 + n,
                    base,
                    token,
                    pages,
                    ["tm_lookup", "similar"],
                    warm_deadline,
                    Recorder(),
                    None,
                    args.client,
                ),
                daemon=True,
            )
            for n in range(args.workers * 2)
        ]
        for thread in warmers:
            thread.start()
        for thread in warmers:
            thread.join(timeout=args.warmup + 120)
        recorder = Recorder()
        roots = {"gunicorn workers": gunicorn.pid}
        postmaster = postgres.data_dir / "postmaster.pid"
        if postmaster.exists():
            roots["PostgreSQL"] = int(postmaster.read_text().split()[0])
        if redis is not None:
            roots["Redis"] = redis.process.pid
        for number, worker in enumerate(workers):
            roots[f"rq worker {number}"] = worker.pid
        cpu_before = tree_cpu_seconds(roots)
        deadline = time.monotonic() + args.duration
        started = time.monotonic()
        per_client = args.rate / args.clients if args.rate else None
        threads = [
            threading.Thread(
                target=client_loop,
                args=(
                    number,
                    base,
                    token,
                    pages,
                    kinds,
                    deadline,
                    recorder,
                    per_client,
                    args.client,
                ),
                daemon=True,
            )
            for number in range(args.clients)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=args.duration + 60)
        duration = time.monotonic() - started
        cpu_after = tree_cpu_seconds(roots)
        cpu = {name: cpu_after[name] - cpu_before[name] for name in cpu_after}
        print(report(recorder, duration, args, command, routes, cpu))
    finally:
        for process in [gunicorn, *workers]:
            if process is None:
                continue
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        if redis is not None:
            redis.stop()
        postgres.stop()


if __name__ == "__main__":
    main()
