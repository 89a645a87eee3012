"""``video_flow``: one project from text to a published video."""

from __future__ import annotations

from prefect import flow

from data import get_project, update_project
from flows import artifacts
from flows.outcomes import images_or_placeholders, partial_success_note, raise_first_failure
from flows.quota_wait import WaitingForQuota, publish_or_wait_for_quota
from flows.stages import stage
from tasks.assets import draw_image, make_avatar, mix_narration, narrate_part
from tasks.limits import free_dead_holds
from tasks.progress import flow_cancelled, flow_completed, flow_failed, flow_started
from tasks.publish import publish_video
from tasks.render import render_video
from tasks.runner import StepThreadPool
from tasks.script import write_script
from tasks.thumbnail import make_thumbnail
from ytmaker.core.settings import get_settings
from ytmaker.runtime.job import VideoResult, build_job


@flow(
    name="video-flow",
    task_runner=StepThreadPool(),
    on_running=[flow_started, free_dead_holds],
    on_completion=[flow_completed],
    on_failure=[flow_failed],
    on_crashed=[flow_failed],
    on_cancellation=[flow_cancelled],
)
def video_flow(project_id: int, publish: bool = True) -> VideoResult:
    """Script -> narration, pictures and avatars in parallel -> render -> thumbnail -> publish.
    With ``publish=False`` the run stops after the thumbnail."""
    settings = get_settings()
    job = build_job(get_project(project_id), settings)
    project, use = job.paths, job.providers
    shown = artifacts.start_progress(project_id)

    with stage(project_id, "script_generation", artifact=shown):
        script = write_script(project, job.script_request, use.script)
        update_project(project_id, script=script.model_dump())
        artifacts.script_table(project_id, script)

    parts, image_requests = script.parts(), job.image_requests(script)
    steps = len(parts) + len(image_requests) + 2 + 1  # + the intro and outro avatars, the narration mix
    with stage(project_id, "asset_generation", steps=steps, artifact=shown):
        # Each provider kind waits for its own turns (tasks/limits.py), so all of it is
        # submitted at once; the avatars' narration first, as the avatars are the longest path.
        spoken = {part: narrate_part.submit(project, part, text, job.language, job.min_seconds(part), use.tts)
                  for part, text in [parts[0], parts[-1], *parts[1:-1]]}
        intro = make_avatar.submit(project, "intro", script.intro.text, job.language, spoken[parts[0][0]], use.avatar)
        outro = make_avatar.submit(project, "outro", script.outro.text, job.language, spoken[parts[-1][0]], use.avatar)
        pictures = [draw_image.submit(project, request, use.image) for request in image_requests]
        narration = mix_narration.submit(project, [spoken[part] for part, _ in parts])
        raise_first_failure([*spoken.values(), *pictures, intro, outro, narration])
        images, image_errors = images_or_placeholders(project_id, pictures)

    with stage(project_id, "video_rendering", artifact=shown):
        video = render_video.with_options(timeout_seconds=settings.render_timeout_seconds)(
            project, narration.result(), images, intro.result(), outro.result(), job.style, job.logo)

    with stage(project_id, "thumbnail_generation", artifact=shown):
        thumbnail = make_thumbnail(project, script.metadata.title, next(i for i in images if i), job.logo)

    made = dict(project_id=project_id, errors=image_errors, video_path=video.path, thumbnail_path=thumbnail.path,
                duration_seconds=round(video.seconds, 3))
    if not publish:
        return VideoResult(status="RENDERED", **made)

    try:
        with stage(project_id, "youtube_upload", artifact=shown):
            upload = publish_video.with_options(timeout_seconds=settings.upload_timeout_seconds)
            published = publish_or_wait_for_quota(
                project_id, upload, project, video, thumbnail, script.metadata, job.language, job.privacy,
                job.publish_at, use.publish)
            update_project(project_id, youtube_video_id=published.video_id, video_url=published.video_url,
                           error_info=partial_success_note(image_errors))
            artifacts.results(project_id, published.video_url, video.path, thumbnail.path, video.seconds)
    except WaitingForQuota as waiting:
        return VideoResult(status="WAITING_FOR_QUOTA", resume_at=waiting.resume_at.isoformat(),
                           next_flow_run_id=waiting.flow_run_id, **made)

    return VideoResult(status="partial_success" if image_errors else "COMPLETED", video_id=published.video_id,
                       video_url=published.video_url, video_status=published.video_status, **made)
