"""A real ytmaker service for end-to-end tests, set up the way the README's production mode
describes it:

* ``prefect server start`` on a free port, its database on PostgreSQL;
* the app database on PostgreSQL (``DATABASE_URL``);
* Redis with a password (its own ``redis-server`` on a free port);
* project files and Prefect results in one directory every worker reaches;
* ``ytmaker deploy`` from ``prefect.yaml``, then process workers started with ``ytmaker worker``.

Everything talks over real sockets and real processes; one service is shared by the module.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, TypeVar

import httpx
import psycopg

REPO_ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
POSTGRES_ADMIN_URL = os.environ.get("YTMAKER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(check: Callable[[], T], timeout: float, what: str, interval: float = 0.25) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def _admin(sql: str) -> None:
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
        conn.execute(sql)


@dataclass
class Service:
    root: Path
    api_url: str
    env: dict[str, str]
    redis_url: str
    database_url: str
    workers: dict[str, subprocess.Popen] = field(default_factory=dict)
    _processes: list[subprocess.Popen] = field(default_factory=list)
    _databases: list[str] = field(default_factory=list)

    def run(self, *args: str, timeout: float = 300, check: bool = True, env: dict[str, str] | None = None
            ) -> subprocess.CompletedProcess:
        """A command in the service's environment (``prefect ...``, ``ytmaker ...``)."""
        command = [str(BIN / args[0]), *args[1:]] if (BIN / args[0]).exists() else list(args)
        result = subprocess.run(command, cwd=REPO_ROOT, env={**self.env, **(env or {})}, capture_output=True,
                                text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(args)} exited {result.returncode}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
        return result

    def start_worker(self, name: str) -> subprocess.Popen:
        log = open(self.root / f"worker-{name}.log", "w")
        process = subprocess.Popen(
            [str(BIN / "ytmaker"), "worker", "--name", name], cwd=REPO_ROOT, env=self.env,
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        self.workers[name] = process
        self._processes.append(process)
        return process

    def kill_worker(self, name: str) -> None:
        """SIGKILL a worker and the flow-run processes it started (as a crashed machine would)."""
        worker = self.workers.pop(name)
        for pid in children_of(worker.pid):
            _kill_group(pid)
        _kill_group(worker.pid)
        worker.wait(10)

    def worker_log(self, name: str) -> str:
        return (self.root / f"worker-{name}.log").read_text(errors="replace")

    @contextmanager
    def as_client(self) -> Iterator[None]:
        """Point this test process's settings (app DB, Redis, files) and Prefect client at the service."""
        from prefect.settings import PREFECT_API_URL, temporary_settings

        from ytmaker.core.settings import reload_settings

        keys = ("DATABASE_URL", "REDIS_URL", "DATA_DIR", "YTMAKER_MIN_TOTAL_SECONDS")
        saved = {k: os.environ.get(k) for k in keys}
        os.environ.update({k: self.env[k] for k in keys})
        reload_settings()
        try:
            with temporary_settings(updates={PREFECT_API_URL: self.api_url}):
                yield
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
            reload_settings()

    def close(self) -> None:
        for process in reversed(self._processes):
            if process.poll() is None:
                _kill_group(process.pid, signal.SIGTERM)
        for process in self._processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                _kill_group(process.pid)
        for name in self._databases:
            try:
                _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            except psycopg.Error:
                pass


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def processes_with(text: str) -> list[int]:
    """Live processes whose command line contains ``text``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if text in cmdline and state != "Z":
                found.append(int(entry.name))
    return found


def _kill_group(pid: int, sig: int = signal.SIGKILL) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def start_service(root: Path) -> Service:
    tag = uuid.uuid4().hex[:8]
    prefect_db, app_db = f"ytmaker_e2e_prefect_{tag}", f"ytmaker_e2e_app_{tag}"
    for name in (prefect_db, app_db):
        _admin(f'CREATE DATABASE "{name}"')
    pg = POSTGRES_ADMIN_URL.rsplit("/", 1)[0].split("://", 1)[1]

    redis_port, api_port = free_port(), free_port()
    password = uuid.uuid4().hex
    shared = root / "shared"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "YTMAKER_")) and k not in ("DATABASE_URL", "REDIS_URL", "DATA_DIR")},
        "PREFECT_HOME": str(root / "prefect-home"),
        "PREFECT_API_URL": f"http://127.0.0.1:{api_port}/api",
        "PREFECT_API_DATABASE_CONNECTION_URL": f"postgresql+asyncpg://{pg}/{prefect_db}",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_API_SERVICES_SCHEDULER_LOOP_SECONDS": "5",
        "PREFECT_WORKER_QUERY_SECONDS": "1",
        "PREFECT_RESULTS_LOCAL_STORAGE_PATH": str(shared / "results"),
        "DATA_DIR": str(shared / "data"),
        "DATABASE_URL": f"postgresql+psycopg://{pg}/{app_db}",
        "REDIS_URL": f"redis://:{password}@127.0.0.1:{redis_port}/0",
        "YTMAKER_MIN_TOTAL_SECONDS": "20",
        "YTMAKER_HEARTBEAT_SECONDS": "2",
        # Long enough that the recover test's dead run still holds its render lock when
        # `ytmaker recover` runs (the test proves recover frees it, not that it expired).
        "YTMAKER_LOCK_TTL_SECONDS": "90",
        # Picture quality is tested elsewhere; here the render only has to be real and quick
        # (the cancel and recover tests slow one run down on purpose with a job variable).
        "YTMAKER_X264_PRESET": "ultrafast",
    }
    service = Service(root=root, api_url=env["PREFECT_API_URL"], env=env, redis_url=env["REDIS_URL"],
                      database_url=env["DATABASE_URL"])
    service._databases += [prefect_db, app_db]
    try:
        (root / "redis").mkdir(parents=True)
        service._processes.append(subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(redis_port), "--requirepass", password,
             "--save", "", "--appendonly", "no", "--dir", str(root / "redis")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        ))
        server_log = open(root / "server.log", "w")
        service._processes.append(subprocess.Popen(
            [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(api_port)],
            env=env, stdout=server_log, stderr=subprocess.STDOUT, start_new_session=True,
        ))

        def healthy() -> bool:
            try:
                return httpx.get(f"{service.api_url}/health", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(healthy, 120, "the Prefect server", interval=0.5)
        service.run("ytmaker", "deploy", timeout=180)
        service.start_worker("w1")
        service.start_worker("w2")
        return service
    except BaseException:
        service.close()
        raise
