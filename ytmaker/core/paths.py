"""Where each file of a project lives (the layout is part of the product's contract)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ProjectPaths:
    """A project and where its files live. Every pipeline step receives one as its first
    argument: it says which project the step works for, and where to write."""

    project_id: int
    root: Path  # data/projects/{id}

    @classmethod
    def for_project(cls, projects_dir: Path, project_id: int) -> "ProjectPaths":
        return cls(project_id, Path(projects_dir) / str(project_id))

    @property
    def audio_dir(self) -> Path:
        return self.root / "audio"

    @property
    def images_dir(self) -> Path:
        return self.root / "images"

    @property
    def avatars_dir(self) -> Path:
        return self.root / "avatars"

    @property
    def output_dir(self) -> Path:
        return self.root / "output"

    @property
    def work_dir(self) -> Path:
        """Intermediate files (encoded pieces); safe to delete after a render."""
        return self.root / "work"

    @property
    def full_audio(self) -> Path:
        return self.audio_dir / "full_audio.mp3"

    def part_audio(self, part: str) -> Path:
        return self.audio_dir / f"{part}.wav"

    def image(self, segment_index: int) -> Path:
        return self.images_dir / f"segment_{segment_index:02d}.png"

    def avatar(self, which: str) -> Path:
        return self.avatars_dir / f"{which}.mp4"

    @property
    def final_video(self) -> Path:
        return self.output_dir / "final_video.mp4"

    @property
    def thumbnail(self) -> Path:
        return self.output_dir / "thumbnail.jpg"

    @property
    def upload_record(self) -> Path:
        """What the YouTube publisher knows of this project's upload (resumable session, video id)."""
        return self.output_dir / "youtube_upload.json"
