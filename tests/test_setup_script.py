"""scripts/setup.sh's PostgreSQL step, run for real against this machine: a PostgreSQL cluster
that set-up did not install is never reconfigured.

``pg_ctlcluster``, ``apt-get`` and ``sudo`` are replaced by recording stubs at the front of
PATH, so the run can neither install packages nor start or reload the machine's cluster.
"""

from __future__ import annotations

import glob
import os
import secrets
import stat
import subprocess
from pathlib import Path

import psycopg

from tests.service import REPO_ROOT

SCRIPT = REPO_ROOT / "scripts" / "setup.sh"
# The local default-port server: the case in which set-up used to edit pg_hba.conf.
LOCAL_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def _stub(bin_dir: Path, name: str, log: Path, rc: int) -> None:
    path = bin_dir / name
    path.write_text(f'#!/bin/sh\necho "{name} $*" >> "{log}"\nexit {rc}\n')
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def _pg_hba_files() -> dict[str, bytes]:
    return {p: Path(p).read_bytes() for p in glob.glob("/etc/postgresql/*/main/pg_hba.conf") if os.access(p, os.R_OK)}


def _drop_database(name: str) -> bool:
    """Drop ``name`` on the local server; True when it existed. No server: nothing to drop."""
    try:
        with psycopg.connect(LOCAL_ADMIN, autocommit=True, connect_timeout=3) as conn:
            existed = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            return existed
    except psycopg.OperationalError:
        return False


def _run_setup(tmp_path: Path, pg_url: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    # Without a matching stamp set-up would pip-install into the shared virtualenv first.
    want = subprocess.run(
        "cat pyproject.toml requirements.lock | sha256sum | cut -d' ' -f1",
        shell=True, cwd=REPO_ROOT, capture_output=True, text=True, check=True,
    ).stdout.strip()
    assert (REPO_ROOT / ".venv" / ".ytmaker-installed").read_text().strip() == want, "run scripts/setup.sh first"

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "calls.log"
    log.touch()
    _stub(bin_dir, "pg_ctlcluster", log, 0)  # "started", yet the server still does not answer
    _stub(bin_dir, "apt-get", log, 1)
    _stub(bin_dir, "sudo", log, 1)
    env = {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "YTMAKER_TEST_POSTGRES_URL": pg_url,
        "VENV": ".venv",
    }
    result = subprocess.run(
        ["bash", str(SCRIPT), "test"], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=180,
    )
    return result, log.read_text().splitlines()


def test_an_existing_cluster_is_started_but_never_reconfigured(tmp_path: Path) -> None:
    # A database that does not exist on the machine's own server: the connection fails the way
    # a cluster with other auth rules would, and the old set-up "repaired" it (pg_hba.conf
    # trust line, CREATE DATABASE) and said ready.
    database = f"ytmaker_setup_probe_{secrets.token_hex(4)}"
    before = _pg_hba_files()
    try:
        result, calls = _run_setup(tmp_path, f"postgresql://postgres@127.0.0.1:5432/{database}")
    finally:
        after = _pg_hba_files()
        for path, data in before.items():  # should a regression edit it, put the machine back
            if after.get(path) != data:
                Path(path).write_bytes(data)
        created = _drop_database(database)

    assert result.returncode != 0, result.stdout + result.stderr
    assert "ready" not in result.stdout
    assert "YTMAKER_TEST_POSTGRES_URL" in result.stderr
    assert after == before, "pg_hba.conf of a cluster set-up did not install was changed"
    assert not created, "set-up created a database in a cluster it did not install"
    assert not any(c.startswith(("apt-get", "sudo")) for c in calls), calls
    if before:  # a cluster exists here: set-up may start it, nothing more
        assert all(c.startswith("pg_ctlcluster") and c.endswith(" main start") for c in calls), calls


def test_a_server_that_is_not_local_names_the_setting(tmp_path: Path) -> None:
    result, calls = _run_setup(tmp_path, "postgresql://postgres@127.0.0.1:5999/test")
    assert result.returncode != 0
    assert "YTMAKER_TEST_POSTGRES_URL" in result.stderr
    assert "ready" not in result.stdout
    assert calls == []
