"""Set up a Prefect server for ytmaker, idempotently: ``make deploy`` (``ytmaker deploy``).

1. the process work pool ``ytmaker`` and its three queues with their concurrency limits;
2. the global concurrency/rate limits the cloud providers use;
3. the credentials block type (and the block itself when cloud keys are in the environment);
4. every deployment declared in ``prefect.yaml`` (``prefect --no-prompt deploy --all``).

Running it again updates what changed and creates nothing twice.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from ytmaker.core.errors import YtmakerError

REPO_ROOT = Path(__file__).resolve().parent.parent
POOL = "ytmaker"


@dataclass(frozen=True)
class Queue:
    name: str
    concurrency: int
    priority: int


# Two videos at a time per pool, one batch driver, one maintenance job.
QUEUES = (
    Queue("video_generation", 2, 1),
    Queue("batch_processing", 1, 2),
    Queue("maintenance", 1, 3),
)


def require_server() -> str:
    """The API URL, or a clear error when none is configured (deployments need a real server)."""
    from prefect.settings import PREFECT_API_URL

    url = PREFECT_API_URL.value()
    if not url:
        raise YtmakerError(
            "PREFECT_API_URL is not set: start a server (`make server`) and point at it, e.g. "
            "export PREFECT_API_URL=http://127.0.0.1:4200/api", code="NO_PREFECT_SERVER",
        )
    return url


def ensure_pool_and_queues(pool: str = POOL) -> None:
    from prefect import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectNotFound
    from prefect.workers.process import ProcessWorker

    with get_client(sync_client=True) as client:
        try:
            client.read_work_pool(pool)
        except ObjectNotFound:
            client.create_work_pool(WorkPoolCreate(
                name=pool, type="process", base_job_template=ProcessWorker.get_default_base_job_template(),
                description="ytmaker: process workers running flows from the checkout",
            ))
        for queue in QUEUES:
            try:
                existing = client.read_work_queue_by_name(queue.name, work_pool_name=pool)
            except ObjectNotFound:
                client.create_work_queue(
                    name=queue.name, work_pool_name=pool, concurrency_limit=queue.concurrency, priority=queue.priority,
                )
                continue
            client.update_work_queue(existing.id, concurrency_limit=queue.concurrency, priority=queue.priority)


def ensure_blocks() -> list[str]:
    """Register the credentials block type; save the block when cloud keys are in the environment."""
    from blocks.credentials import FIELDS, YtmakerCredentials
    from blocks.credentials import save_credentials_from_settings

    YtmakerCredentials.register_type_and_schema()
    if any(os.environ.get(env) for env in FIELDS.values()):
        return save_credentials_from_settings()
    return []


def deploy_all(pool: str = POOL) -> None:
    """Everything above, then the deployments of prefect.yaml."""
    require_server()
    from tasks.limits import ensure_limits

    ensure_pool_and_queues(pool)
    ensure_limits()
    saved = ensure_blocks()
    prefect = Path(sys.executable).with_name("prefect")
    command = [str(prefect) if prefect.exists() else "prefect", "--no-prompt", "deploy", "--all"]
    result = subprocess.run(command, cwd=REPO_ROOT, env={**os.environ, "PWD": str(REPO_ROOT)})
    if result.returncode != 0:
        raise YtmakerError(f"`prefect deploy --all` failed (exit {result.returncode}); see its output above.",
                           code="DEPLOY_FAILED")
    print(f"Work pool {pool!r}: queues " + ", ".join(f"{q.name} (limit {q.concurrency})" for q in QUEUES))
    if saved:
        print("Credentials block saved with: " + ", ".join(saved))
