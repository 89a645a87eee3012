"""``video_flow``: one project from text to a published video."""

from __future__ import annotations

from typing import Any

from prefect import flow
from prefect.futures import PrefectFuture, wait
from tasks.runner import StepThreadPool

from data import get_project, image_overrides, list_assets, update_project
from flows import artifacts
from flows.quota_wait import WaitingForQuota, publish_or_wait_for_quota
from flows.stages import stage
from tasks.assets import draw_image, make_avatar, mix_narration, narrate_part
from tasks.limits import free_dead_holds
from tasks.progress import flow_cancelled, flow_completed, flow_failed, flow_started
from tasks.publish import publish_video
from tasks.render import render_video
from tasks.script import write_script
from tasks.thumbnail import make_thumbnail
from ytmaker.core.errors import YtmakerError
from ytmaker.runtime.job import build_job
from ytmaker.core.media_types import ImageAsset
from ytmaker.providers.errors import ProviderError
from ytmaker.providers.base import ImageRequest
from ytmaker.core.settings import get_settings


MAX_FAILED_IMAGE_SHARE = 0.2


def _refused_by_policy(exc: BaseException | None) -> bool:
    return isinstance(exc, ProviderError) and exc.kind == "CONTENT_POLICY"


def _raise_first_failure(futures: list[PrefectFuture]) -> None:
    """Let every started step finish (so it is cached), then raise the failure that came
    first. Only steps that failed count: a step left pending because a step it needs failed
    says nothing useful ("Run is in PENDING state"). Pictures refused by a content policy
    are not failures of the stage (see ``_images``)."""
    wait(futures)
    failed = []
    for future in futures:
        state = future.state
        if state.is_failed() or state.is_crashed():
            if not _refused_by_policy(state.result(raise_on_failure=False)):
                failed.append(future)
    if failed:
        min(failed, key=lambda f: f.state.timestamp).result()


def _images(project_id: int, futures: list[PrefectFuture]) -> tuple[list[ImageAsset | None], list[dict]]:
    """Pictures refused by a content policy become ``None`` (the render shows a placeholder)
    and an error entry; any other failure, or more than 20 % refused, fails the stage."""
    wait(futures)
    images: list[ImageAsset | None] = []
    errors: list[dict] = []
    for index, future in enumerate(futures, start=1):
        state = future.state
        if state.is_completed():
            images.append(future.result())
            continue
        exc = state.result(raise_on_failure=False)
        if not _refused_by_policy(exc):
            future.result()  # raises the real failure
        images.append(None)
        errors.append({"asset_type": "IMAGE", "segment_index": index, "error": exc.message, "code": exc.code})
    if errors and len(errors) > MAX_FAILED_IMAGE_SHARE * len(futures):
        raise YtmakerError(
            f"Project {project_id}: {len(errors)} of {len(futures)} pictures were refused "
            f"(more than {MAX_FAILED_IMAGE_SHARE:.0%}); change their descriptions and run again.",
            code="IMAGES_FAILED",
            details={"errors": errors},
        )
    return images, errors


@flow(
    name="video-flow",
    task_runner=StepThreadPool(),
    on_running=[flow_started, free_dead_holds],
    on_completion=[flow_completed],
    on_failure=[flow_failed],
    on_crashed=[flow_failed],
    on_cancellation=[flow_cancelled],
)
def video_flow(project_id: int, publish: bool = True) -> dict[str, Any]:
    """Script -> narration, pictures and avatars in parallel -> render -> thumbnail -> publish.
    With ``publish=False`` the run stops after the thumbnail."""
    settings = get_settings()
    job = build_job(get_project(project_id), settings)
    p = job.providers
    shown = artifacts.start_progress(project_id)

    with stage(project_id, "script_generation", artifact=shown):
        script = write_script(project_id, job.script_request, p["script"])
        update_project(project_id, script=script.model_dump())
        artifacts.script_table(project_id, script)

    parts = script.parts()
    remakes = image_overrides(project_id)
    with stage(project_id, "asset_generation", steps=len(parts) + len(script.segments) + 3, artifact=shown):
        spoken = [
            narrate_part.submit(project_id, name, text, job.language,
                                job.min_segment_seconds if name.startswith("segment_") else 0.0, p["tts"])
            for name, text in parts
        ]
        pictures = [
            draw_image.submit(project_id, ImageRequest(
                project_id=project_id, segment_index=s.index, segment_count=len(script.segments),
                description=remakes.get(s.index, (None, 0))[0] or s.image_description,
                title=script.metadata.title, language=job.language, revision=remakes.get(s.index, (None, 0))[1],
            ), p["image"])
            for s in script.segments
        ]
        intro = make_avatar.submit(project_id, "intro", script.intro.text, job.language, spoken[0], p["avatar"])
        outro = make_avatar.submit(project_id, "outro", script.outro.text, job.language, spoken[-1], p["avatar"])
        narration = mix_narration.submit(project_id, spoken)
        _raise_first_failure([*spoken, *pictures, intro, outro, narration])
        images, image_errors = _images(project_id, pictures)
        intro_clip, outro_clip, full_narration = intro.result(), outro.result(), narration.result()

    with stage(project_id, "video_rendering", artifact=shown):
        video = render_video.with_options(timeout_seconds=settings.render_timeout_seconds)(
            project_id, full_narration, images, intro_clip, outro_clip, job.style, job.logo)

    with stage(project_id, "thumbnail_generation", artifact=shown):
        thumbnail = make_thumbnail(project_id, script.metadata.title, next(i for i in images if i), job.logo)

    if not publish:
        return {"status": "RENDERED", "project_id": project_id, "errors": image_errors, "video_path": video.path,
                "thumbnail_path": thumbnail.path, "duration_seconds": round(video.seconds, 3)}

    try:
        with stage(project_id, "youtube_upload", artifact=shown):
            upload = publish_video.with_options(timeout_seconds=settings.upload_timeout_seconds)
            published = publish_or_wait_for_quota(project_id, lambda: upload(
                project_id, video, thumbnail, script.metadata, job.language, job.privacy, job.publish_at, p["publish"]))
            partial = {
                "stage": "asset_generation", "code": "PARTIAL_SUCCESS",
                "message": f"{len(image_errors)} picture(s) were replaced by placeholders; rerun to retry them.",
                "details": {"errors": image_errors},
            } if image_errors else None
            update_project(project_id, youtube_video_id=published.video_id, video_url=published.video_url,
                           error_info=partial)
            artifacts.results(project_id, published.video_url, video.path, thumbnail.path, video.seconds)
    except WaitingForQuota as waiting:
        return {"status": "WAITING_FOR_QUOTA", "project_id": project_id, "errors": image_errors,
                "resume_at": waiting.resume_at.isoformat(), "next_flow_run_id": waiting.flow_run_id,
                "video_path": video.path, "thumbnail_path": thumbnail.path, "duration_seconds": round(video.seconds, 3)}

    return {
        "status": "partial_success" if image_errors else "COMPLETED",
        "errors": image_errors,
        "project_id": project_id,
        "video_id": published.video_id,
        "video_url": published.video_url,
        "video_status": published.video_status,
        "video_path": video.path,
        "thumbnail_path": thumbnail.path,
        "duration_seconds": round(video.seconds, 3),
        "assets": len(list_assets(project_id)),
    }
