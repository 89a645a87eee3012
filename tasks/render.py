"""Stage 3: the final video."""

from __future__ import annotations

from pathlib import Path

from prefect import task
from prefect.context import TaskRunContext

from data import AssetType, record_asset
from tasks.caching import step_cache
from tasks.progress import report, stage_hooks
from ytmaker.media import render
from ytmaker.core.media_types import AvatarClip, FileRef, ImageAsset, Narration, RenderedVideo, SubtitleStyle
from ytmaker.core.paths import ProjectPaths
from ytmaker.core.settings import get_settings

RENDER = "video_rendering"


@task(
    name="render-video",
    cache_policy=step_cache(code=("ytmaker.media.render",), settings=("video_crf", "x264_preset"), fonts=True),
    persist_result=True,
    **stage_hooks(RENDER),
)
def render_video(
    project_id: int,
    narration: Narration,
    images: list[ImageAsset | None],
    intro: AvatarClip | None,
    outro: AvatarClip | None,
    style: SubtitleStyle,
    logo: FileRef | None,
) -> RenderedVideo:
    """Render ``output/final_video.mp4`` (1920x1080, 30 fps, H.264 + AAC, burned subtitles)."""
    settings = get_settings()
    paths = ProjectPaths.for_project(settings.projects_dir, project_id)
    run_id = TaskRunContext.get().task_run.flow_run_id
    plan = render.RenderPlan(
        narration=narration,
        images={img.segment_index: img.file for img in images if img is not None},
        intro_clip=Path(intro.path) if intro else None,
        outro_clip=Path(outro.path) if outro else None,
        out_path=paths.final_video,
        work_dir=paths.work_dir,
        style=style,
        logo_path=Path(logo.path) if logo else None,
        crf=settings.video_crf,
        preset=settings.x264_preset,
    )
    video = render.render_video(plan, progress=lambda f, msg: report(run_id, project_id, RENDER, f, msg))
    record_asset(project_id, AssetType.FINAL_VIDEO, path=video.path, sha256=video.sha256)
    return video
