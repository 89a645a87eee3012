"""The one small interface per stage. Local and cloud providers are interchangeable."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

from pydantic import BaseModel

from ytmaker.core.media_types import Publication
from ytmaker.core.script import Script, ScriptRequest, VideoMetadata


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


@runtime_checkable
class ScriptWriter(Protocol):
    def write(self, request: ScriptRequest) -> Script: ...


@runtime_checkable
class SpeechSynthesizer(Protocol):
    def synthesize(self, text: str, language: str, out_path: Path) -> Path:
        """Speak ``text``; write an audio file ffmpeg can read at ``out_path``."""
        ...


@runtime_checkable
class ImageGenerator(Protocol):
    def generate(self, request: ImageRequest, out_path: Path) -> Path:
        """Write one 1920x1080 PNG for the segment at ``out_path``."""
        ...


@runtime_checkable
class AvatarGenerator(Protocol):
    def generate(self, request: AvatarRequest, out_path: Path) -> Path:
        """Write a talking-presenter MP4 as long as the request's audio at ``out_path``."""
        ...


@runtime_checkable
class Publisher(Protocol):
    def publish(self, request: PublishRequest) -> Publication: ...
