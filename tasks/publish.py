"""Stage 5: publishing (the local folder target, or YouTube)."""

from __future__ import annotations

from tasks.caching import step_cache
from tasks.providers import provider_named
from tasks.step import pipeline_step
from ytmaker.core.paths import ProjectPaths
from ytmaker.core.media_types import Publication, RenderedVideo, Thumbnail
from ytmaker.providers.base import PublishRequest
from ytmaker.core.script import VideoMetadata


@pipeline_step("publish-video", stage="youtube_upload", calls_provider=True, cache=step_cache(provider="publish"))
def publish_video(
    project: ProjectPaths,
    video: RenderedVideo,
    thumbnail: Thumbnail,
    metadata: VideoMetadata,
    language: str,
    privacy: str,
    publish_at: str | None,
    provider: str,
) -> Publication:
    """Publish the video with its thumbnail and metadata; the same video is never published twice."""
    request = PublishRequest(
        project_id=project.project_id, video_path=video.path, video_sha256=video.sha256, thumbnail_path=thumbnail.path,
        metadata=metadata, language=language, privacy=privacy, publish_at=publish_at,
        upload_record_path=str(project.upload_record),
    )
    return provider_named("publish", provider).publish(request)
