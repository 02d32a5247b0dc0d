"""Start real PostgreSQL and Redis servers on loopback for integration tests (no mocks)."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _postgres_bin() -> Path | None:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"))
    return Path(candidates[-1]).parent if candidates else None


def _as_server_user(command: list[str]) -> list[str]:
    # PostgreSQL refuses to run as root; CI runs as root, developers usually don't.
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return command


@dataclass
class PostgresServer:
    url: str
    data_dir: Path
    bin_dir: Path
    # The folder start_postgres made for the server user itself (run as root): removed on stop.
    own_folder: Path | None = None

    def stop(self) -> None:
        subprocess.run(
            _as_server_user(
                [str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-m", "immediate", "stop"]
            ),
            capture_output=True,
            check=False,
        )
        if self.own_folder is not None:
            shutil.rmtree(self.own_folder, ignore_errors=True)


def start_postgres(base: Path) -> PostgresServer | None:
    """initdb + start on a free loopback port; None if PostgreSQL isn't installed."""
    bin_dir = _postgres_bin()
    if bin_dir is None:
        return None
    own_folder = None
    if os.geteuid() == 0:
        # pytest's temp folders are private to root; the server user needs its own.
        base = own_folder = Path(tempfile.mkdtemp(prefix="tm-postgres-"))
        shutil.chown(base, "postgres")
    base.mkdir(parents=True, exist_ok=True)
    data_dir = base / "pgdata"
    subprocess.run(
        _as_server_user(
            [
                str(bin_dir / "initdb"),
                "-D",
                str(data_dir),
                "-U",
                "tm",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ]
        ),
        check=True,
        capture_output=True,
    )
    port = free_port()
    log = base / "postgres.log"
    subprocess.run(
        _as_server_user(
            [
                str(bin_dir / "pg_ctl"),
                "-D",
                str(data_dir),
                "-l",
                str(log),
                "-w",
                "-o",
                f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200",
                "start",
            ]
        ),
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [
            str(bin_dir.parent / "bin" / "createdb")
            if (bin_dir / "createdb").exists()
            else "createdb",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-U",
            "tm",
            "tm",
        ],
        check=True,
        capture_output=True,
    )
    return PostgresServer(
        url=f"postgresql+psycopg://tm@127.0.0.1:{port}/tm",
        data_dir=data_dir,
        bin_dir=bin_dir,
        own_folder=own_folder,
    )


@dataclass
class RedisServer:
    url: str
    process: subprocess.Popen

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def start_redis(base: Path, port: int | None = None) -> RedisServer | None:
    """redis-server on a free loopback port (or `port`, to start one again), no persistence;
    None if it isn't installed."""
    binary = shutil.which("redis-server")
    if binary is None:
        return None
    base.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    process = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(base),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return RedisServer(url=f"redis://127.0.0.1:{port}/0", process=process)
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("redis-server did not start")
