"""A stage of the pipeline as the project's status sees it."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator
from uuid import UUID

from prefect.context import FlowRunContext

from flows.artifacts import stage_done
from flows.quota_wait import WaitingForQuota
from data import ProjectStatus, set_status, update_project
from tasks.progress import plan_stage
from ytmaker.core.errors import error_info
from ytmaker.core.stages import stage_named

@contextmanager
def stage(project_id: int, name: str, steps: int = 1, artifact: UUID | None = None) -> Iterator[None]:
    """Move the project into the stage and out of it; a failure inside marks the project
    FAILED with the stage, error code and message, then propagates. An interruption
    (cancel, SIGTERM) is noted with the stage but does not mark the project FAILED."""
    running, done = ProjectStatus(stage_named(name).running), ProjectStatus(stage_named(name).done)
    ctx = FlowRunContext.get()
    if ctx is not None:
        plan_stage(ctx.flow_run.id, name, steps)
    set_status(project_id, running)
    try:
        yield
    except WaitingForQuota as exc:
        update_project(project_id, status=ProjectStatus.WAITING_FOR_QUOTA, error_info=error_info(exc, name))
        raise
    except Exception as exc:
        update_project(project_id, status=ProjectStatus.FAILED, error_info=error_info(exc, name))
        raise
    except BaseException as exc:
        # Cancelled or terminated (a signal, not a failure of the step): the status stays, so
        # the cancellation hook or `ytmaker recover` decides what happens to the project.
        update_project(project_id, error_info={
            "stage": name, "code": "INTERRUPTED", "message": f"interrupted by {type(exc).__name__}", "details": {},
        })
        raise
    set_status(project_id, done)
    stage_done(artifact, name)
