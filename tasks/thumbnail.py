"""Stage 4: the thumbnail."""

from __future__ import annotations

from pathlib import Path

from prefect import task

from data import AssetType, record_asset
from tasks.caching import step_cache
from tasks.progress import stage_hooks
from ytmaker.media.drawing.thumbnail import make_thumbnail as draw_thumbnail
from ytmaker.core.hashing import file_sha256
from ytmaker.core.media_types import FileRef, ImageAsset, Thumbnail
from ytmaker.core.paths import ProjectPaths
from ytmaker.core.settings import get_settings


@task(
    name="make-thumbnail",
    cache_policy=step_cache(code=("ytmaker.media.drawing.thumbnail",), fonts=True),
    persist_result=True,
    **stage_hooks("thumbnail_generation"),
)
def make_thumbnail(project_id: int, title: str, image: ImageAsset, logo: FileRef | None) -> Thumbnail:
    """1280x720 JPEG from the first picture with the title on it."""
    out = ProjectPaths.for_project(get_settings().projects_dir, project_id).thumbnail
    draw_thumbnail(image.file, title, out, Path(logo.path) if logo else None)
    digest = file_sha256(out)
    record_asset(project_id, AssetType.THUMBNAIL, path=str(out), sha256=digest)
    return Thumbnail(path=str(out), sha256=digest)
