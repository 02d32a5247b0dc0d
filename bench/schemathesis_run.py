"""Schemathesis against the real deployment shape: gunicorn + PostgreSQL on loopback, demo data.

    .venv/bin/python bench/schemathesis_run.py --max-examples 200 [--workers 2] [--seed 1]

Starts a throwaway PostgreSQL (tests/integration/servers.py), builds the schema (`flask db
upgrade`), loads the demo data (`tm load-demo`, three regions), stores a few suggestions so their
ids exist, issues a global admin token and starts gunicorn on 127.0.0.1. Then runs `st run` on
/api/openapi.json twice, once with the token and once without, each with every phase (examples,
coverage, fuzzing, stateful: chains of calls following the links Schemathesis infers), positive
and negative data, `--max-examples` per operation and a fixed seed. A hook swaps half of the
generated path parameters for stored regions, pages, languages and suggestions, so the routes
get past their 404s. Prints per run the requests sent, the server errors (any 5xx; also checked
in gunicorn's log) and the other check failures, as Markdown; exits non-zero on a server error.
Loopback only; each run is bounded by `--max-examples` and `--timeout`; everything started is
stopped.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

VENV_BIN = Path(sys.executable).parent
KNOWN_VALUES_ENV = "TM_SCHEMATHESIS_KNOWN_VALUES"
CHECKS = (
    "not_a_server_error,status_code_conformance,content_type_conformance,"
    "response_schema_conformance,ignored_auth,use_after_free,ensure_resource_availability"
)


# --- the hook, run inside `st run` (SCHEMATHESIS_HOOKS=bench.schemathesis_run) ---------------

if os.environ.get(KNOWN_VALUES_ENV):
    import schemathesis
    from hypothesis import strategies as st

    _KNOWN: dict[str, list] = json.loads(os.environ[KNOWN_VALUES_ENV])

    @schemathesis.hook
    def flatmap_path_parameters(context, path_parameters):
        # Random path values almost never name a stored region or page: half of them are
        # swapped for ones that exist, or every route would only ever answer 404.
        if not path_parameters:
            return st.just(path_parameters)
        known = {
            name: st.sampled_from(_KNOWN[name]) if _KNOWN.get(name) else st.just(value)
            for name, value in path_parameters.items()
        }
        return st.one_of(st.just(path_parameters), st.fixed_dictionaries(known))


# --- the run ----------------------------------------------------------------------------------


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


def known_values(base: str, token: str) -> dict[str, list]:
    """Stored regions, pages, languages, suggestions and jobs to put into path parameters."""
    import requests

    auth = {"Authorization": f"Bearer {token}"}
    regions = [r["slug"] for r in requests.get(f"{base}/api/v1/regions", timeout=30).json()]
    pages = requests.get(
        f"{base}/api/v1/regions/lkaugsburg/pages?limit=5&language=de", timeout=60
    ).json()["items"]
    page_ids = [item["external_id"] for item in pages]
    suggestion = requests.post(
        f"{base}/api/v1/regions/lkaugsburg/suggestions",
        json={"page": page_ids[0], "target_language": "ar", "machine_translation": False},
        headers=auth,
        timeout=120,
    )
    suggestion.raise_for_status()
    suggestion_ids = [
        s["suggestion_id"] for s in suggestion.json()["segments"] if s["suggestion_id"]
    ][:5]
    jobs = requests.get(f"{base}/api/v1/jobs", timeout=30).json()
    job_items = jobs["items"] if isinstance(jobs, dict) else jobs
    languages = ["de", "en", "ar", "fa"]
    return {
        "region": regions,
        "region_a": regions,
        "region_b": regions,
        "external_id": page_ids,
        "language": languages,
        "code": languages,
        "suggestion_id": suggestion_ids,
        "job_id": [job["id"] for job in job_items[:3]],
    }


def run_schemathesis(
    base: str, token: str | None, args, report_dir: Path, env: dict[str, str]
) -> dict:
    """One `st run`; returns its counts from the NDJSON event stream."""
    ndjson = report_dir / ("with-token.ndjson" if token else "anonymous.ndjson")
    command = [
        str(VENV_BIN / "st"),
        "run",
        f"{base}/api/openapi.json",
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--mode",
        "all",
        "--max-examples",
        str(args.max_examples),
        "--seed",
        str(args.seed),
        "--workers",
        str(args.workers),
        "--checks",
        CHECKS,
        "--continue-on-failure",
        "--request-timeout",
        "60",
        "--generation-database",
        "none",
        # Large bodies of the lookup schema are mostly filtered out; that is expected.
        "--suppress-health-check",
        "all",
        "--report",
        "ndjson",
        "--report-ndjson-path",
        str(ndjson),
        "--no-color",
        "--output-truncate",
        "true",
    ]
    if token:
        command += ["--header", f"Authorization: Bearer {token}"]
    started = time.perf_counter()
    result = subprocess.run(
        command,
        cwd=ROOT,
        env={**env, "SCHEMATHESIS_HOOKS": "bench.schemathesis_run"},
        capture_output=True,
        text=True,
        timeout=args.timeout,
        check=False,
    )
    elapsed = time.perf_counter() - started
    (report_dir / (ndjson.stem + ".log")).write_text(result.stdout + result.stderr)
    return summarize(ndjson, result, elapsed)


def summarize(ndjson: Path, result: subprocess.CompletedProcess, elapsed: float) -> dict:
    """Requests, statuses, server errors and failed checks of one run, from its NDJSON events
    (each finished scenario records its interactions and the outcome of every check)."""
    statuses: Counter[int] = Counter()
    failures: Counter[str] = Counter()
    server_errors: list[str] = []
    errors: list[str] = []
    for line in ndjson.read_text().splitlines() if ndjson.exists() else []:
        event = json.loads(line)
        if "NonFatalError" in event:
            errors.append(event["NonFatalError"]["value"]["message"].splitlines()[0])
        recorder = event.get("ScenarioFinished", {}).get("recorder")
        if not recorder:
            continue
        for interaction in recorder.get("interactions", {}).values():
            status = interaction["response"]["status_code"] if interaction["response"] else 0
            statuses[status] += 1
            if status >= 500 and len(server_errors) < 20:
                request = interaction["request"]
                server_errors.append(f"{status} {request['method']} {request['uri'][:200]}")
        for checks in recorder.get("checks", {}).values():
            for check in checks:
                if check["status"].lower() == "failure":
                    failures[f"{check['name']} ({recorder['label']})"] += 1
    return {
        "exit": result.returncode,
        "seconds": elapsed,
        "requests": sum(statuses.values()),
        "statuses": dict(sorted(statuses.items())),
        "server_errors": sum(n for s, n in statuses.items() if s >= 500),
        "server_error_samples": server_errors,
        "failed_checks": dict(failures),
        "errors": errors,
        "summary": _tail(result.stdout),
    }


def _tail(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return "\n".join(lines[-25:])


def main() -> None:
    from tests.integration.servers import free_port, start_postgres

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-examples", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2, help="schemathesis workers")
    parser.add_argument("--gunicorn-workers", type=int, default=2)
    parser.add_argument("--timeout", type=int, default=3600, help="seconds per st run at most")
    parser.add_argument("--only", choices=["token", "anonymous"], help="one of the two runs")
    args = parser.parse_args()
    if args.max_examples > 1000 or args.timeout > 4 * 3600:
        parser.error("bounded run: --max-examples <= 1000, --timeout <= 14400")
    command = "python bench/schemathesis_run.py " + " ".join(sys.argv[1:])

    base_dir = Path(tempfile.mkdtemp(prefix="tm-schemathesis-"))
    report_dir = base_dir / "reports"
    report_dir.mkdir()
    postgres = start_postgres(base_dir / "pg")
    if postgres is None:
        sys.exit("PostgreSQL is not installed (apt-get install postgresql)")
    gunicorn = None
    gunicorn_log = base_dir / "gunicorn.log"
    try:
        env = {
            **os.environ,
            "TM_DATABASE_URL": postgres.url,
            "TM_EMBEDDING_MODEL": "fake",
            "TM_SECRET_KEY": "schemathesis-run",
        }
        for name in ("TM_REDIS_URL", "TM_DEEPL_API_KEY", KNOWN_VALUES_ENV):
            env.pop(name, None)
        flask_cli(env, "db", "upgrade", "heads")
        flask_cli(env, "tm", "load-demo")
        flask_cli(env, "tm", "rebuild-units")
        issued = flask_cli(env, "tm", "token", "create", "--role", "admin", "--name", "st")
        token = next(word for word in issued.split() if word.startswith("tm_"))
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        gunicorn = subprocess.Popen(
            [
                str(VENV_BIN / "gunicorn"),
                "-w",
                str(args.gunicorn_workers),
                "-b",
                f"127.0.0.1:{port}",
                "--timeout",
                "120",
                "wsgi:app",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=gunicorn_log.open("w"),
        )
        _wait_for(f"{base}/api/v1/health")
        env[KNOWN_VALUES_ENV] = json.dumps(known_values(base, token))
        runs = {}
        for name, run_token in (("token", token), ("anonymous", None)):
            if args.only in (None, name):
                runs[name] = run_schemathesis(base, run_token, args, report_dir, env)
                print(f"{name}: {runs[name]['summary']}", file=sys.stderr)
        logged = _logged_server_errors(gunicorn_log)
        print(report(runs, logged, command, args, report_dir))
        if logged or any(run["server_errors"] for run in runs.values()):
            sys.exit(1)
    finally:
        if gunicorn is not None:
            gunicorn.terminate()
            try:
                gunicorn.wait(timeout=20)
            except subprocess.TimeoutExpired:
                gunicorn.kill()
        postgres.stop()


def _wait_for(url: str, deadline_s: float = 90) -> None:
    import requests

    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


def _logged_server_errors(log: Path) -> list[str]:
    """The service logs every unhandled error ("Unhandled error on METHOD PATH")."""
    text = log.read_text(errors="replace") if log.exists() else ""
    return re.findall(r"Unhandled error on (\S+ \S+)", text)


def report(runs: dict, logged: list[str], command: str, args, report_dir: Path) -> str:
    lines = [
        f"- command: `{command}`",
        f"- schemathesis phases: examples, coverage, fuzzing, stateful; positive and negative "
        f"data; {args.max_examples} examples per operation; seed {args.seed}; "
        f"gunicorn {args.gunicorn_workers} sync workers on PostgreSQL; reports in {report_dir}",
        "",
        "| run | requests | server errors (5xx) | statuses | other failed checks | minutes |",
        "|---|---:|---:|---|---|---:|",
    ]
    for name, run in runs.items():
        lines.append(
            f"| {name} | {run['requests']} | {run['server_errors']} | {run['statuses']} | "
            f"{run['failed_checks'] or '—'} | {run['seconds'] / 60:.1f} |"
        )
        for sample in run["server_error_samples"]:
            lines.append(f"\n- {name} server error: `{sample}`")
        for error in run["errors"]:
            lines.append(f"\n- {name} schemathesis error: {error}")
    counted = Counter(logged)
    lines.append(f"\nUnhandled errors in gunicorn's log: {sum(counted.values())}")
    for where, count in counted.most_common(20):
        lines.append(f"- {count} × `{where}`")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
