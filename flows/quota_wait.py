"""Publishing when YouTube's daily quota is used up: wait for the reset instead of failing.

A deployed run (started by a worker) schedules a new run of its own deployment, with the
same parameters and job variables, for just after the reset, marks the project
WAITING_FOR_QUOTA and ends; the new run finds every step cached and only publishes. A run
in a plain process (``ytmaker run``, a Python call) sleeps until the reset, keeping its
heartbeat, and publishes then.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any, Callable, TypeVar

from prefect.context import FlowRunContext
from prefect.deployments import run_deployment

from ytmaker.runtime import progress_bus
from ytmaker.core.errors import YtmakerError
from ytmaker.runtime.quota import youtube_quota_resume_time

T = TypeVar("T")


class WaitingForQuota(YtmakerError):
    """The upload was rescheduled to a new run at ``resume_at``."""

    def __init__(self, project_id: int, resume_at: datetime, flow_run_id: str, cause: YtmakerError):
        super().__init__(
            f"Project {project_id}: {cause.message} The upload is scheduled for "
            f"{resume_at.isoformat(timespec='seconds')} (flow run {flow_run_id}).",
            code="WAITING_FOR_QUOTA",
            details={"resume_at": resume_at.isoformat(), "next_flow_run_id": flow_run_id, "cause": cause.code},
        )
        self.resume_at = resume_at
        self.flow_run_id = flow_run_id


def publish_or_wait_for_quota(project_id: int, publish: Callable[..., T], *args: Any) -> T:
    """``publish(*args)``; when YouTube's quota is used up, wait for its reset: as a new
    deployment run scheduled then (raises ``WaitingForQuota``), or by sleeping here."""
    try:
        return publish(*args)
    except YtmakerError as exc:
        resume_at = youtube_quota_resume_time(exc)
        if resume_at is None:
            raise
        cause = exc
    ctx = FlowRunContext.get()
    flow_run = ctx.flow_run if ctx else None
    if flow_run is not None and flow_run.deployment_id is not None:
        run = run_deployment(
            flow_run.deployment_id, parameters=dict(flow_run.parameters), job_variables=flow_run.job_variables or None,
            scheduled_time=resume_at, timeout=0, as_subflow=False, tags=["waiting-for-quota"],
        )
        progress_bus.publish(project_id, "youtube_upload", 0,
                             f"YouTube quota used up: upload scheduled for {resume_at.isoformat(timespec='seconds')}",
                             resume_at=resume_at.isoformat(), next_flow_run_id=str(run.id))
        raise WaitingForQuota(project_id, resume_at, str(run.id), cause)
    wait = (resume_at - datetime.now(timezone.utc)).total_seconds()
    progress_bus.publish(project_id, "youtube_upload", 0,
                         f"YouTube quota used up: waiting {wait:.0f} s for it to reset", resume_at=resume_at.isoformat())
    time.sleep(max(0.0, wait))
    return publish(*args)
