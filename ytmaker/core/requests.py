"""What a stage asks of its provider: plain request models, shared by the layers that make
them (``ytmaker.runtime``, ``tasks``), draw from them (``ytmaker.media``) and serve them
(``ytmaker.providers``, which re-exports them from ``ytmaker.providers.base``)."""

from __future__ import annotations

from pydantic import BaseModel

from ytmaker.core.script import VideoMetadata


class ImageRequest(BaseModel):
    project_id: int
    segment_index: int
    segment_count: int
    description: str
    title: str
    language: str
    revision: int = 0  # raised by regenerate_image_flow: the same segment, made again

    def seed_text(self) -> str:
        """What every image provider seeds its randomness from.

        The revision is part of it so a remake without a new description gives a new
        picture; revision 0 adds nothing, so pictures made before remakes existed (and
        their cached results) keep exactly the seed they had.
        """
        base = f"{self.segment_index}\x00{self.description}"
        return base if self.revision == 0 else f"{base}\x00r{self.revision}"


class AvatarRequest(BaseModel):
    project_id: int
    which: str  # "intro" | "outro"
    text: str
    language: str
    audio_path: str  # the narration this avatar speaks; the clip follows its length


class PublishRequest(BaseModel):
    project_id: int
    video_path: str
    video_sha256: str
    thumbnail_path: str
    metadata: VideoMetadata
    language: str
    privacy: str = "private"
    publish_at: str | None = None  # ISO 8601, for scheduled publishing
    # Where a publisher that must never publish the same video twice keeps its record (the
    # YouTube upload record; a lock file goes next to it). The caller names it from the
    # project's layout: a provider never derives project paths itself.
    upload_record_path: str | None = None
