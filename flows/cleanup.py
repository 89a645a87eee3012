"""``cleanup_flow`` (daily): delete intermediate files of projects that finished long ago.

Only projects that are COMPLETED, FAILED or CANCELLED and untouched for
``older_than_days`` are cleaned, and only of what can be made again: the encoder's work
files and the per-part narration WAVs. Final videos, thumbnails, pictures, avatars and the
full narration stay. A running or new project is never touched. A later rerun makes any
removed file again (the cache notices it is gone).
"""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from prefect import flow, task

from data import ProjectStatus, list_projects
from ytmaker.core.paths import ProjectPaths
from ytmaker.core.settings import get_settings

FINISHED = {ProjectStatus.COMPLETED, ProjectStatus.FAILED, ProjectStatus.CANCELLED}


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def intermediate_files(paths: ProjectPaths) -> list[Path]:
    found = [paths.work_dir] if paths.work_dir.exists() else []
    if paths.audio_dir.exists():
        found += sorted(paths.audio_dir.glob("*.wav"))
    return found


def clean_old_projects(older_than_days: float, now: datetime | None = None) -> dict[str, Any]:
    now = now or datetime.now(timezone.utc)
    cutoff = now - timedelta(days=older_than_days)
    settings = get_settings()
    cleaned, freed = [], 0
    for project in list_projects(limit=100_000):
        updated = project.updated_at if project.updated_at.tzinfo else project.updated_at.replace(tzinfo=timezone.utc)
        if project.status not in FINISHED or updated > cutoff:
            continue
        paths = ProjectPaths.for_project(settings.projects_dir, project.id)
        files = intermediate_files(paths)
        if not files:
            continue
        for path in files:
            freed += _size(path)
            shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
        cleaned.append(project.id)
    return {"cleaned_projects": cleaned, "bytes_freed": freed}


@task(name="clean-old-projects")
def clean_old_projects_task(older_than_days: float) -> dict[str, Any]:
    return clean_old_projects(older_than_days)


@flow(name="cleanup-flow")
def cleanup_flow(older_than_days: float = 7.0) -> dict[str, Any]:
    return clean_old_projects_task(older_than_days)
