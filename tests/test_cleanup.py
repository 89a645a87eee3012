"""cleanup_flow removes what can be made again, only from projects finished long ago."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from data import ProjectStatus, create_project, update_project
from ytmaker.core.paths import ProjectPaths
from ytmaker.core.settings import get_settings

pytestmark = pytest.mark.usefixtures("prefect_harness")


def _project_with_files(name: str, status: ProjectStatus, age_days: float) -> ProjectPaths:
    project = create_project(name, "Some content here.", "en")
    update_project(project.id, status=status, updated_at=datetime.now(timezone.utc) - timedelta(days=age_days))
    paths = ProjectPaths.for_project(get_settings().projects_dir, project.id)
    for path in (paths.work_dir / "pieces.h264", paths.part_audio("segment_01"), paths.full_audio,
                 paths.final_video, paths.thumbnail, paths.image(1)):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * 1000)
    return paths


def test_only_old_finished_projects_lose_only_intermediate_files():
    from flows import cleanup_flow

    old_done = _project_with_files("old done", ProjectStatus.COMPLETED, 10)
    old_failed = _project_with_files("old failed", ProjectStatus.FAILED, 10)
    old_running = _project_with_files("old running", ProjectStatus.RENDERING, 10)
    new_done = _project_with_files("new done", ProjectStatus.COMPLETED, 1)

    result = cleanup_flow(older_than_days=7)
    cleaned = set(result["cleaned_projects"])
    assert {int(old_done.root.name), int(old_failed.root.name)} <= cleaned
    assert not {int(old_running.root.name), int(new_done.root.name)} & cleaned
    assert result["bytes_freed"] >= 4000
    for paths in (old_done, old_failed):
        assert not paths.work_dir.exists() and not paths.part_audio("segment_01").exists()
        assert paths.final_video.exists() and paths.thumbnail.exists() and paths.full_audio.exists()
        assert paths.image(1).exists()
    for paths in (old_running, new_done):  # untouched
        assert paths.work_dir.exists() and paths.part_audio("segment_01").exists()
