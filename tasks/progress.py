"""Prefect state hooks that turn task and flow states into progress messages.

Within a stage, progress only rises: multi-task stages count finished tasks against the
number of steps the flow announced (``plan_stage``), under a lock so that messages from
parallel tasks stay in order.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any, Callable

from ytmaker.core.paths import ProjectPaths
from ytmaker.core.stages import ERROR_STAGE, PIPELINE, ProjectStatus, stage_named
from ytmaker.runtime import liveness, progress_bus

log = logging.getLogger("ytmaker.progress")


@dataclass
class _StageState:
    steps: int = 1
    done: int = 0
    percent: float = 0.0
    started: bool = False


_states: dict[tuple[str, str], _StageState] = {}
_lock = threading.Lock()


def _state(run_id: Any, stage: str) -> _StageState:
    return _states.setdefault((str(run_id), stage), _StageState())


def plan_stage(run_id: Any, stage: str, steps: int) -> None:
    with _lock:
        _state(run_id, stage).steps = max(1, steps)


def report(run_id: Any, project_id: int, stage: str, fraction: float, message: str) -> None:
    """Publish progress inside a stage (never lower than what was already published)."""
    with _lock:
        state = _state(run_id, stage)
        percent = max(state.percent, min(100.0, 100.0 * fraction))
        state.percent = percent
        progress_bus.publish(project_id, stage, percent, message)


def forget_run(run_id: Any) -> None:
    with _lock:
        for key in [k for k in _states if k[0] == str(run_id)]:
            del _states[key]


def _project_id(parameters: dict[str, Any]) -> int | None:
    """A video run's project: the flow's ``project_id`` parameter (its documented signature)."""
    value = parameters.get("project_id")
    return int(value) if value is not None else None


def stage_hooks(stage: str, describe: Callable[[dict[str, Any]], str]) -> dict[str, list[Callable]]:
    """on_running/on_completion hooks of a pipeline step (``tasks.step.pipeline_step``): they
    publish the step's progress within ``stage`` for the project the step declares (its
    ``project`` argument), naming the item with ``describe(arguments)``."""
    stage_named(stage)
    title = stage.replace("_", " ")

    def on_running(task, task_run, state) -> None:  # noqa: ANN001
        project = _step_project()
        if project is None:
            return
        with _lock:
            st = _state(task_run.flow_run_id, stage)
            if st.started:
                return
            st.started = True
            progress_bus.publish(project.project_id, stage, st.percent, f"{title} started")

    def on_completion(task, task_run, state) -> None:  # noqa: ANN001
        project = _step_project()
        if project is None:
            return
        cached = state.name == "Cached"
        what = describe(_step_arguments())
        with _lock:
            st = _state(task_run.flow_run_id, stage)
            st.done += 1
            st.percent = max(st.percent, min(100.0, 100.0 * st.done / st.steps))
            progress_bus.publish(
                project.project_id, stage, st.percent, f"{what} {'reused from cache' if cached else 'done'}"
            )

    return {"on_running": [on_running], "on_completion": [on_completion]}


def _step_arguments() -> dict[str, Any]:
    from prefect.context import TaskRunContext

    ctx = TaskRunContext.get()
    return dict(ctx.parameters) if ctx and ctx.parameters else {}


def _step_project() -> ProjectPaths | None:
    project = _step_arguments().get("project")
    return project if isinstance(project, ProjectPaths) else None


# ------------------------------------------------------------------ flow hooks

def flow_started(flow, flow_run, state) -> None:  # noqa: ANN001
    project_id = _project_id(flow_run.parameters)
    if project_id is None:
        return
    from sqlalchemy.exc import IntegrityError

    from data import record_project_run

    progress_bus.reset_history(project_id)
    liveness.start_heartbeat(project_id, str(flow_run.id))
    try:
        record_project_run(project_id, str(flow_run.id))
    except IntegrityError:  # no such project: the flow itself fails with PROJECT_NOT_FOUND
        pass


def flow_completed(flow, flow_run, state) -> None:  # noqa: ANN001
    project_id = _run_ended(flow_run)
    if project_id is None:
        return
    from data import get_project

    project = get_project(project_id)
    last = PIPELINE[-1].name
    if project.status is ProjectStatus.COMPLETED:
        stage, message = last, f"Video ready: {project.video_url}"
    elif project.status is ProjectStatus.WAITING_FOR_QUOTA:
        stage, message = last, (project.error_info or {}).get("message", "Waiting for the YouTube quota")
    else:  # publish=False, or a flow that stops before publishing: the stage it stopped after
        stage = next((s.name for s in PIPELINE if s.done == project.status.value), last)
        message = f"Video rendered ({project.status.value}); not published"
    progress_bus.publish(
        project_id, stage, 100, message,
        final=True, status=project.status.value, video_id=project.youtube_video_id, video_url=project.video_url,
    )
    forget_run(flow_run.id)


def _run_ended(flow_run) -> int | None:  # noqa: ANN001
    """The run's project id (None if it has none), with its heartbeat stopped."""
    project_id = _project_id(flow_run.parameters)
    if project_id is not None:
        liveness.stop_heartbeat(project_id, str(flow_run.id))
    return project_id


def flow_failed(flow, flow_run, state) -> None:  # noqa: ANN001
    project_id = _run_ended(flow_run)
    if project_id is None:
        return
    from data import get_project
    from ytmaker.core.errors import ProjectNotFound

    try:
        info = get_project(project_id).error_info or {}
    except ProjectNotFound:
        info = {"stage": PIPELINE[0].name, "code": "PROJECT_NOT_FOUND", "message": f"Project {project_id} does not exist."}
    progress_bus.publish(
        project_id, ERROR_STAGE, 0, info.get("message", "The run failed."),
        error=info, failed_stage=info.get("stage"), final=True, status=state.name.upper(),
    )
    forget_run(flow_run.id)


def flow_cancelled(flow, flow_run, state) -> None:  # noqa: ANN001
    """Cancelled from the UI or ``prefect flow-run cancel``: the project is CANCELLED (its
    finished steps stay cached, so a later run resumes) and listeners are told."""
    project_id = _run_ended(flow_run)
    if project_id is None:
        return
    from data import ProjectStatus, get_project, update_project
    from ytmaker.core.errors import ProjectNotFound

    try:
        info = get_project(project_id).error_info or {}
        stage = info.get("stage") if info.get("code") == "INTERRUPTED" else None
        update_project(project_id, status=ProjectStatus.CANCELLED, error_info={
            "stage": stage, "code": "CANCELLED",
            "message": f"Project {project_id}: the run was cancelled; run it again to continue from the finished steps.",
            "details": {"flow_run_id": str(flow_run.id)},
        })
    except ProjectNotFound:
        return
    progress_bus.publish(
        project_id, ERROR_STAGE, 0, "The run was cancelled.", final=True, status="CANCELLED", failed_stage=stage,
        error={"code": "CANCELLED", "stage": stage},
    )
    forget_run(flow_run.id)
