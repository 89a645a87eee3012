"""Recovery: start again the projects whose run died with its worker.

A project is *interrupted* when its status says a run is in progress (SCRIPT_GENERATING …
UPLOADING) but no run is beating for it (``ytmaker.runtime.liveness``). Recovery closes the dead
Prefect flow run (marks it Crashed, so the UI tells the truth), frees the step locks it
still held and expired concurrency leases (instead of making the new run wait for their TTL),
and starts the project again: as a run of the video deployment when one exists (any worker
picks it up), else in this process. Every finished step comes from the cache, so the new run continues where
the old one stopped.
"""

from __future__ import annotations

import logging
from typing import Any, Literal
from uuid import UUID

from prefect import flow, get_run_logger
from prefect.client.orchestration import get_client
from prefect.exceptions import ObjectNotFound
from prefect.states import Crashed

from data import RUNNING_STATUSES, last_project_run, projects_in_status
from ytmaker.runtime.liveness import claim, live_run, submitted_run
from tasks.limits import reclaim_expired_leases
from tasks.locking import lock_manager
from ytmaker.core.settings import get_settings

log = logging.getLogger("ytmaker.recover")
How = Literal["auto", "deployment", "here", "none"]
# A submitted run that no worker has started within this long is treated as lost again.
CLAIM_SECONDS = 600


def interrupted_projects() -> list[dict[str, Any]]:
    """Projects in a running status with no live run: ``{project_id, status, flow_run_id}``.
    A project whose last run completed is not one (a ``publish=False`` run, such as
    regenerate_image_flow, ends with the project at THUMBNAIL_GENERATED on purpose)."""
    found = []
    for project in projects_in_status(RUNNING_STATUSES):
        if live_run(project.id) is not None:
            continue
        submitted = submitted_run(project.id)
        if submitted and _waiting(submitted):
            continue  # recovery already submitted a run that has not started yet
        run_id = last_project_run(project.id)
        if run_id and _completed(run_id):
            continue
        found.append({"project_id": project.id, "status": project.status.value, "flow_run_id": run_id})
    return found


def _completed(flow_run_id: str) -> bool:
    with get_client(sync_client=True) as client:
        try:
            state = client.read_flow_run(UUID(flow_run_id)).state
        except ObjectNotFound:
            return False
    return state is not None and state.is_completed()


def _waiting(flow_run_id: str) -> bool:
    """A submitted run not yet picked up (Scheduled, Pending, Late...). A run that started
    beats for its project, so a started one here is dead or done: not waiting."""
    with get_client(sync_client=True) as client:
        try:
            state = client.read_flow_run(UUID(flow_run_id)).state
        except ObjectNotFound:
            return False
    return state is not None and (state.is_scheduled() or state.is_pending())


def _close_dead_run(flow_run_id: str | None) -> None:
    if not flow_run_id:
        return
    with get_client(sync_client=True) as client:
        try:
            run = client.read_flow_run(UUID(flow_run_id))
        except ObjectNotFound:
            return
        if run.state is not None and not run.state.is_final():
            client.set_flow_run_state(
                run.id, Crashed(message="The worker running this flow run stopped; ytmaker recover restarted the project."),
                force=True,
            )


def _deployment_exists(name: str) -> bool:
    with get_client(sync_client=True) as client:
        try:
            client.read_deployment_by_name(name)
            return True
        except ObjectNotFound:
            return False


def recover_interrupted_tasks(how: How = "auto") -> list[dict[str, Any]]:
    """Find interrupted projects and start each again.

    ``how``: ``deployment`` submits a run of the video deployment (``YTMAKER_VIDEO_DEPLOYMENT``);
    ``here`` runs ``video_flow`` in this process, one project after the other; ``auto`` uses the
    deployment when it exists; ``none`` only reports. Returns one entry per project with the
    new ``flow_run_id`` (deployment) or ``result_status`` (here)."""
    from prefect.deployments import run_deployment

    from flows.video import video_flow

    settings = get_settings()
    found = interrupted_projects()
    if how == "none":
        return found
    locks = lock_manager()
    for entry in found:
        _close_dead_run(entry["flow_run_id"])
        if entry["flow_run_id"]:
            entry["locks_freed"] = locks.release_locks_of_run(entry["flow_run_id"])
    # Anything else dead processes still hold, freed before anything starts again.
    locks.release_dead_locks()
    reclaim_expired_leases()
    if not found:
        return found
    if how == "auto":
        how = "deployment" if _deployment_exists(settings.video_deployment) else "here"
    for entry in found:
        project_id = entry["project_id"]
        if how == "deployment":
            run = run_deployment(settings.video_deployment, parameters={"project_id": project_id}, timeout=0,
                                 tags=["recovered"])
            claim(project_id, str(run.id), CLAIM_SECONDS)
            entry.update(restarted="deployment", new_flow_run_id=str(run.id))
        else:
            state = video_flow(project_id=project_id, return_state=True)
            entry.update(restarted="here", result_status=state.name)
        log.info("project %s restarted (%s)", project_id, entry["restarted"])
    return found


@flow(name="recover-flow")
def recover_flow() -> list[dict[str, Any]]:
    """Deployed on the maintenance queue: restart interrupted projects as deployment runs."""
    found = recover_interrupted_tasks(how="deployment")
    get_run_logger().info("%d interrupted project(s) restarted", len(found))
    return found
