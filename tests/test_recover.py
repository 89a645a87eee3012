"""Recovery in one process (no worker): what counts as interrupted, and a restart that
continues from the cache. The worker-killed case runs in tests/test_service_e2e.py."""

from __future__ import annotations

import pytest

from data import ProjectStatus, create_project, get_project, set_status
from tests.test_video_flow import _calls, _run
from ytmaker import providers
from ytmaker.liveness import start_heartbeat, stop_heartbeat

pytestmark = pytest.mark.usefixtures("prefect_harness")


def test_a_project_left_running_without_a_heartbeat_is_restarted_from_the_cache(en_content, env, tmp_path):
    from flows import recover_interrupted_tasks

    env(DATABASE_URL=f"sqlite:///{tmp_path / 'recover.db'}")  # only this test's projects

    project = create_project("Bees interrupted", en_content, "en")
    assert _run(project.id).is_completed()
    # As a dead worker leaves it: a running status, nothing beating.
    set_status(project.id, ProjectStatus.RENDERING)
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
    finally:
        stop_heartbeat(busy.id)
        set_status(busy.id, ProjectStatus.FAILED)
