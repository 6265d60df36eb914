"""Fixtures for the host tests: a real throwaway PostgreSQL cluster (the broker is the suite's
`broker` fixture in tests/conftest.py: mosquitto with the shipped config, ACL and accounts).

The cluster is made with initdb in a temp dir and started with pg_ctl on a free loopback port;
run as root (as in a CI container) both run as user `postgres` via runuser, because PostgreSQL
refuses to run as root. Each test gets a fresh database in it.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _owned_dir(prefix: str, user: str) -> Path:
    """A temp dir `user` owns when we are root (it cannot use root's private dirs)."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    if os.geteuid() == 0:
        shutil.chown(path, user, user)
    return path


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    which = shutil.which("initdb")
    return Path(which).parent if which else None


def _as_postgres(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[str]:
    """A throwaway PostgreSQL cluster; yields the DSN prefix (no dbname)."""
    bindir = _pg_bin()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) not installed: "
                    "apt-get install postgresql")
    base = _owned_dir("hotpress-pg-", "postgres")
    data, port = base / "data", free_port()
    subprocess.run(_as_postgres([str(bindir / "initdb"), "-D", str(data), "-A", "trust",
                                 "-U", "postgres", "--no-sync", "-E", "UTF8"]),
                   check=True, capture_output=True)
    opts = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run(_as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-o", opts, "-w",
                                 "-l", str(base / "log"), "start"]),
                   check=True, capture_output=True)
    try:
        yield f"host=127.0.0.1 port={port} user=postgres"
    finally:
        _stop_cluster(bindir, data)
        shutil.rmtree(base, ignore_errors=True)


def _stop_cluster(bindir: Path, data: Path) -> None:
    """pg_ctl stop; if that fails, SIGQUIT the postmaster by the PID it wrote."""
    done = subprocess.run(_as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-m",
                                        "immediate", "-w", "stop"]), capture_output=True)
    pidfile = data / "postmaster.pid"
    if done.returncode != 0 and pidfile.exists():
        with contextlib.suppress(ValueError, OSError):
            os.kill(int(pidfile.read_text().split()[0]), signal.SIGQUIT)


@pytest.fixture
def pg_dsn(pg_cluster: str) -> str:
    """A fresh, empty database in the throwaway cluster."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(f"{pg_cluster} dbname=postgres", autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return f"{pg_cluster} dbname={name}"
