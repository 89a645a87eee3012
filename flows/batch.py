"""``batch_flow``: many projects, bounded concurrency; one failed project never stops the rest."""

from __future__ import annotations

from typing import Any

from prefect import flow, task, unmapped
from prefect.deployments import run_deployment
from prefect.states import State
from prefect.task_runners import ThreadPoolTaskRunner

from data import ProjectRecord, batch_project_ids, create_batch, get_batch, get_project, record_batch_result, start_batch_run
from flows.video import video_flow
from ytmaker.runtime.job import VideoResult
from ytmaker.runtime import progress_bus
from ytmaker.core.errors import error_info
from ytmaker.core.settings import get_settings


def _run_video_flow(project_id: int) -> State:
    """The project's video_flow, as a subflow here or as a run of the video deployment that
    any worker on the pool may take (``YTMAKER_BATCH_MODE``)."""
    settings = get_settings()
    if settings.batch_mode == "subflow":
        return video_flow(project_id=project_id, return_state=True)
    run = run_deployment(settings.video_deployment, parameters={"project_id": project_id}, timeout=None)
    return run.state


@task(name="make-project-video")
def make_project_video(batch_id: int, project_id: int) -> dict[str, Any]:
    """Run one project's video_flow and count the outcome on the batch."""
    state = _run_video_flow(project_id)
    if state is not None and state.is_completed():
        result = state.result() if get_settings().batch_mode == "subflow" else get_project(project_id)
        outcome = _completed(project_id, result)
    else:
        project = get_project(project_id)
        info = project.error_info or error_info(RuntimeError(state.message or state.name if state else "lost"), "unknown")
        outcome = {"project_id": project_id, "status": "FAILED", "error": info}
    batch = record_batch_result(batch_id, outcome["status"] != "FAILED")
    done = batch.completed + batch.failed
    progress_bus.publish(
        f"batch:{batch_id}", "batch", 100 * done / max(1, batch.total),
        f"project {project_id} {outcome['status'].lower()} ({done}/{batch.total})",
        project=project_id, completed=batch.completed, failed=batch.failed, final=done >= batch.total or None,
    )
    return outcome


def _completed(project_id: int, result: VideoResult | ProjectRecord) -> dict[str, Any]:
    if isinstance(result, VideoResult):
        return {"project_id": project_id, "status": result.status, "video_id": result.video_id}
    status = "partial_success" if (result.error_info or {}).get("code") == "PARTIAL_SUCCESS" else result.status.value
    return {"project_id": project_id, "status": status, "video_id": result.youtube_video_id}


@flow(name="batch-flow", task_runner=ThreadPoolTaskRunner(max_workers=2))
def batch_flow(batch_id: int | None = None, project_ids: list[int] | None = None) -> dict[str, Any]:
    """Make every project of a batch (or of ``project_ids``, which creates the batch).

    Rerunning a batch runs each project's video_flow again: finished steps come from the
    cache, so done projects cost seconds and only unfinished work is redone."""
    if batch_id is None:
        batch_id = create_batch(project_ids or []).id
    batch = start_batch_run(batch_id)
    progress_bus.reset_history(f"batch:{batch_id}")
    progress_bus.publish(f"batch:{batch_id}", "batch", 0, f"batch of {batch.total} projects started")
    outcomes = make_project_video.map(unmapped(batch_id), batch_project_ids(batch_id)).result()
    final = get_batch(batch_id)
    return {
        "status": final.status.value,
        "batch_id": batch_id,
        "total_projects": final.total,
        "completed": final.completed,
        "failed": final.failed,
        "results": outcomes,
    }

