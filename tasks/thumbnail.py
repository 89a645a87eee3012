"""Stage 4: the thumbnail."""

from __future__ import annotations

from pathlib import Path

from data import AssetType, record_asset
from tasks.caching import step_cache
from tasks.step import pipeline_step
from ytmaker.core.hashing import file_sha256
from ytmaker.core.media_types import FileRef, ImageAsset, Thumbnail
from ytmaker.core.paths import ProjectPaths
from ytmaker.media.drawing.thumbnail import make_thumbnail as draw_thumbnail


@pipeline_step("make-thumbnail", stage="thumbnail_generation",
               cache=step_cache(code=("ytmaker.media.drawing.thumbnail",), fonts=True))
def make_thumbnail(project: ProjectPaths, title: str, image: ImageAsset, logo: FileRef | None) -> Thumbnail:
    """1280x720 JPEG from the first picture with the title on it."""
    out = project.thumbnail
    draw_thumbnail(image.file, title, out, Path(logo.path) if logo else None)
    digest = file_sha256(out)
    record_asset(project.project_id, AssetType.THUMBNAIL, path=str(out), sha256=digest)
    return Thumbnail(path=str(out), sha256=digest)
