"""Results of each stage: small, serialisable, and carrying the hash of every file they name.

Downstream cache keys are built from these hashes, so a changed file changes the key and
an unchanged one does not, wherever it lives.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict

FPS = 30
WIDTH, HEIGHT = 1920, 1080


class FileRef(BaseModel):
    path: str
    sha256: str

    @property
    def file(self) -> Path:
        return Path(self.path)


class SpokenSentence(BaseModel):
    """One subtitle unit: its text and where it sits in its part, in frames."""

    text: str
    start_frame: int
    frames: int


class PartAudio(FileRef):
    """Narration of one part (intro, segment_NN, outro); WAV, length a whole number of frames."""

    part: str
    frames: int
    sentences: list[SpokenSentence]

    @property
    def seconds(self) -> float:
        return self.frames / FPS


class Narration(FileRef):
    """The full narration (MP3) and its parts in order."""

    parts: list[PartAudio]

    @property
    def frames(self) -> int:
        return sum(p.frames for p in self.parts)

    @property
    def seconds(self) -> float:
        return self.frames / FPS


class ImageAsset(FileRef):
    segment_index: int


class AvatarClip(FileRef):
    which: str  # "intro" | "outro"


class SubtitleStyle(BaseModel):
    model_config = ConfigDict(frozen=True)  # hashable: overlays are cached per style

    font_size: int = 54
    color: str = "#FFFFFF"
    outline_color: str = "#000000"
    outline_width: int = 3
    box_opacity: float = 0.45  # dark band behind the text, 0 disables it
    bottom_margin: int = 70
    max_lines: int = 2


class RenderedVideo(FileRef):
    frames: int
    seconds: float


class Thumbnail(FileRef):
    pass


class Publication(BaseModel):
    """Same shape for the local target and for YouTube."""

    video_id: str
    video_url: str
    video_status: str
