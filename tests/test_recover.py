"""Recovery in one process (no worker): what counts as interrupted, and a restart that
continues from the cache. The worker-killed case runs in tests/test_service_e2e.py."""

from __future__ import annotations

from uuid import UUID

import pytest
from prefect import get_client
from prefect.states import Running

from data import ProjectStatus, create_project, get_project, last_project_run, set_status
from tests.flow_runs import calls_since as _calls
from tests.flow_runs import run as _run
from ytmaker import providers
from ytmaker.runtime.liveness import start_heartbeat, stop_heartbeat

pytestmark = pytest.mark.usefixtures("prefect_harness")


def test_a_project_left_running_without_a_heartbeat_is_restarted_from_the_cache(en_content, env, tmp_path):
    from flows import recover_interrupted_tasks, regenerate_image_flow

    env(DATABASE_URL=f"sqlite:///{tmp_path / 'recover.db'}")  # only this test's projects

    project = create_project("Bees interrupted", en_content, "en")
    assert _run(project.id).is_completed()
    # As a dead worker leaves it: a running status, nothing beating, its flow run still
    # "Running" on the server.
    set_status(project.id, ProjectStatus.RENDERING)
    dead_run = last_project_run(project.id)
    with get_client(sync_client=True) as client:
        client.set_flow_run_state(UUID(dead_run), Running(), force=True)
    busy = create_project("Bees busy elsewhere", en_content, "en")
    set_status(busy.id, ProjectStatus.ASSETS_GENERATING)
    start_heartbeat(busy.id, "a-live-run")
    try:
        listed = {e["project_id"]: e for e in recover_interrupted_tasks(how="none")}
        assert project.id in listed and busy.id not in listed
        assert listed[project.id]["status"] == "RENDERING" and listed[project.id]["flow_run_id"]

        calls = dict(providers.provider_calls)
        restarted = {e["project_id"]: e for e in recover_interrupted_tasks(how="here")}
        assert restarted[project.id]["restarted"] == "here" and restarted[project.id]["result_status"] == "Completed"
        assert busy.id not in restarted
        assert _calls(calls) == {}  # every step came from the cache
        assert get_project(project.id).status is ProjectStatus.COMPLETED
        assert get_project(busy.id).status is ProjectStatus.ASSETS_GENERATING
        with get_client(sync_client=True) as client:
            assert client.read_flow_run(UUID(dead_run)).state.name == "Crashed"

        # regenerate_image_flow (publish=False) leaves the project at THUMBNAIL_GENERATED on
        # purpose; its run completed, so recovery must not publish it behind the user's back.
        regenerate_image_flow(project.id, 1)
        assert get_project(project.id).status is ProjectStatus.THUMBNAIL_GENERATED
        assert project.id not in {e["project_id"] for e in recover_interrupted_tasks(how="none")}
    finally:
        stop_heartbeat(busy.id)
        set_status(busy.id, ProjectStatus.FAILED)



def test_a_restart_still_waiting_in_a_queue_is_not_doubled_when_its_claim_runs_out(en_content, env, tmp_path):
    """Recovery submitted a deployment run; no worker has taken it yet and the claim (one
    recovery interval) ran out. A second pass must not start the project a second time."""
    import time

    from prefect import flow
    from prefect.states import Scheduled

    from flows import recover_interrupted_tasks
    from ytmaker.runtime.liveness import claim

    env(DATABASE_URL=f"sqlite:///{tmp_path / 'queued.db'}")
    project = create_project("Bees in a queue", en_content, "en")
    set_status(project.id, ProjectStatus.RENDERING)

    @flow(name="video-flow")
    def stand_in(project_id: int) -> None: ...

    with get_client(sync_client=True) as client:
        queued = client.create_flow_run(stand_in, parameters={"project_id": project.id}, state=Scheduled())
    claim(project.id, str(queued.id), seconds=1)
    time.sleep(1.5)  # the claim has expired; the run still waits
    assert project.id not in {e["project_id"] for e in recover_interrupted_tasks(how="none")}

    with get_client(sync_client=True) as client:  # once that run is gone, recovery takes over again
        client.set_flow_run_state(queued.id, Running(), force=True)
    assert project.id in {e["project_id"] for e in recover_interrupted_tasks(how="none")}
    set_status(project.id, ProjectStatus.FAILED)
