"""What one video run needs to know (read once from the project and the settings), and what
it hands back."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from data import ProjectRecord, image_overrides
from ytmaker.core.errors import InvalidProject
from ytmaker.core.hashing import file_sha256
from ytmaker.core.media_types import FileRef, SubtitleStyle
from ytmaker.core.paths import ProjectPaths
from ytmaker.providers.base import ImageRequest
from ytmaker.core.script import Script, ScriptLimits, ScriptRequest
from ytmaker.core.settings import Settings
from ytmaker.providers import provider_name


class ProviderChoice(BaseModel):
    """The provider of each kind this run uses (by name, e.g. ``local`` or ``stability``)."""

    script: str
    tts: str
    image: str
    avatar: str
    publish: str


class VideoJob(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    project_id: int
    paths: ProjectPaths
    language: str
    script_request: ScriptRequest
    providers: ProviderChoice
    style: SubtitleStyle
    logo: FileRef | None
    privacy: str
    publish_at: str | None
    min_segment_seconds: float

    def min_seconds(self, part: str) -> float:
        """Shortest narration of a part: segments have a floor, intro and outro none."""
        return self.min_segment_seconds if part.startswith("segment_") else 0.0

    def image_requests(self, script: Script) -> list[ImageRequest]:
        """One picture per segment: the script's description, or the one a remake asked for
        (its revision makes the remake differ from the picture before)."""
        remakes = image_overrides(self.project_id)
        requests = []
        for segment in script.segments:
            description, revision = remakes.get(segment.index, (None, 0))
            requests.append(ImageRequest(
                project_id=self.project_id, segment_index=segment.index, segment_count=len(script.segments),
                description=description or segment.image_description, title=script.metadata.title,
                language=self.language, revision=revision,
            ))
        return requests


Outcome = Literal["COMPLETED", "partial_success", "RENDERED", "WAITING_FOR_QUOTA"]


class VideoResult(BaseModel):
    """What ``video_flow`` returns."""

    project_id: int
    status: Outcome  # partial_success: published, some pictures are placeholders (see errors)
    errors: list[dict] = []  # pictures refused by a content policy
    video_path: str
    thumbnail_path: str
    duration_seconds: float
    video_id: str | None = None
    video_url: str | None = None
    video_status: str | None = None
    resume_at: str | None = None  # WAITING_FOR_QUOTA: when the scheduled run uploads
    next_flow_run_id: str | None = None


def build_job(project: ProjectRecord, settings: Settings) -> VideoJob:
    limits = ScriptLimits(
        min_segment=settings.min_segment_seconds,
        max_segment=settings.max_segment_seconds,
        min_total=settings.min_total_seconds,
        max_total=settings.max_total_seconds,
    )
    logo = None
    if project.logo_path:
        if not Path(project.logo_path).is_file():
            raise InvalidProject(
                f"Project {project.id}: logo_path {project.logo_path} no longer exists.",
                details={"project_id": project.id, "field": "logo_path", "value": project.logo_path},
            )
        logo = FileRef(path=project.logo_path, sha256=file_sha256(Path(project.logo_path)))
    return VideoJob(
        project_id=project.id,
        paths=ProjectPaths.for_project(settings.projects_dir, project.id),
        language=project.language,
        script_request=ScriptRequest(
            project_id=project.id, title=project.name, content=project.content, language=project.language, limits=limits
        ),
        providers=ProviderChoice(**{kind: provider_name(kind, settings) for kind in ProviderChoice.model_fields}),
        style=SubtitleStyle(**(project.subtitle_style or {})),
        logo=logo,
        privacy=project.privacy.value,
        publish_at=project.publish_at.isoformat() if project.publish_at else None,
        min_segment_seconds=settings.min_segment_seconds,
    )
