"""The one small interface per stage. Local and cloud providers are interchangeable.

The request models live in :mod:`ytmaker.core.requests` (media draws from them too) and are
re-exported here."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

from ytmaker.core.media_types import Publication
from ytmaker.core.requests import AvatarRequest, ImageRequest, PublishRequest
from ytmaker.core.script import Script, ScriptRequest
from ytmaker.media.narration import SpeechSynthesizer  # narration defines what it needs of a speech engine

__all__ = [
    "AvatarGenerator", "AvatarRequest", "ImageGenerator", "ImageRequest", "PublishRequest", "Publisher",
    "ScriptWriter", "SpeechSynthesizer",
]


@runtime_checkable
class ScriptWriter(Protocol):
    def write(self, request: ScriptRequest) -> Script: ...


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
