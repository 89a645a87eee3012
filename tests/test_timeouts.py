"""Render and upload task timeouts: a step that runs too long fails clearly, leaves no
encoder behind, and a later run (with a longer timeout) finishes the project."""

from __future__ import annotations

import pytest

from data import ProjectStatus, create_project, get_project
from tests.service import processes_with
from tests.flow_runs import run as _run
from ytmaker.core.settings import get_settings

pytestmark = pytest.mark.usefixtures("prefect_harness")


def test_a_render_over_its_timeout_fails_with_the_setting_named_and_kills_the_encoder(env, en_content):
    project = create_project("Bees, render too slow", en_content, "en")
    env(YTMAKER_RENDER_TIMEOUT_SECONDS="1")
    state = _run(project.id)
    assert state.is_failed()
    record = get_project(project.id)
    assert record.status is ProjectStatus.FAILED
    info = record.error_info
    assert info["stage"] == "video_rendering" and info["code"] == "STEP_TIMEOUT"
    assert "YTMAKER_RENDER_TIMEOUT_SECONDS" in info["message"]
    project_dir = str(get_settings().projects_dir / str(project.id))
    assert not processes_with(project_dir)
    assert not (get_settings().projects_dir / str(project.id) / "output" / "final_video.mp4").exists()

    env(YTMAKER_RENDER_TIMEOUT_SECONDS="1800")
    assert _run(project.id).is_completed()
    assert get_project(project.id).status is ProjectStatus.COMPLETED
