"""Stage 3: the final video."""

from __future__ import annotations

from pathlib import Path

from prefect.context import TaskRunContext

from data import AssetType, record_asset
from tasks.caching import step_cache
from tasks.progress import report
from tasks.step import pipeline_step
from ytmaker.core.media_types import AvatarClip, FileRef, ImageAsset, Narration, RenderedVideo, SubtitleStyle
from ytmaker.core.paths import ProjectPaths
from ytmaker.core.settings import get_settings
from ytmaker.media import render

RENDER = "video_rendering"


@pipeline_step("render-video", stage=RENDER,
               cache=step_cache(code=("ytmaker.media.render",), settings=("video_crf", "x264_preset"), fonts=True))
def render_video(
    project: ProjectPaths,
    narration: Narration,
    images: list[ImageAsset | None],
    intro: AvatarClip | None,
    outro: AvatarClip | None,
    style: SubtitleStyle,
    logo: FileRef | None,
) -> RenderedVideo:
    """Render ``output/final_video.mp4`` (1920x1080, 30 fps, H.264 + AAC, burned subtitles)."""
    settings = get_settings()
    run_id = TaskRunContext.get().task_run.flow_run_id
    plan = render.RenderPlan(
        narration=narration,
        images={img.segment_index: img.file for img in images if img is not None},
        intro_clip=Path(intro.path) if intro else None,
        outro_clip=Path(outro.path) if outro else None,
        out_path=project.final_video,
        work_dir=project.work_dir,
        style=style,
        logo_path=Path(logo.path) if logo else None,
        crf=settings.video_crf,
        preset=settings.x264_preset,
    )
    video = render.render_video(plan, progress=lambda f, msg: report(run_id, project.project_id, RENDER, f, msg))
    record_asset(project.project_id, AssetType.FINAL_VIDEO, path=video.path, sha256=video.sha256)
    return video
