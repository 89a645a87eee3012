"""Everything one video run needs to know, read once from the project and the settings."""

from __future__ import annotations

from pydantic import BaseModel

from data import ProjectRecord
from ytmaker.core.hashing import file_sha256
from ytmaker.core.media_types import FileRef, SubtitleStyle
from ytmaker.providers import STAGES, provider_name
from ytmaker.core.script import ScriptLimits, ScriptRequest
from ytmaker.core.settings import Settings


class VideoJob(BaseModel):
    project_id: int
    language: str
    script_request: ScriptRequest
    providers: dict[str, str]
    style: SubtitleStyle
    logo: FileRef | None
    privacy: str
    publish_at: str | None
    min_segment_seconds: float


def build_job(project: ProjectRecord, settings: Settings) -> VideoJob:
    limits = ScriptLimits(
        min_segment=settings.min_segment_seconds,
        max_segment=settings.max_segment_seconds,
        min_total=settings.min_total_seconds,
        max_total=settings.max_total_seconds,
    )
    logo = None
    if project.logo_path:
        from pathlib import Path

        from ytmaker.core.errors import InvalidProject

        if not Path(project.logo_path).is_file():
            raise InvalidProject(
                f"Project {project.id}: logo_path {project.logo_path} no longer exists.",
                details={"project_id": project.id, "field": "logo_path", "value": project.logo_path},
            )
        logo = FileRef(path=project.logo_path, sha256=file_sha256(Path(project.logo_path)))
    return VideoJob(
        project_id=project.id,
        language=project.language,
        script_request=ScriptRequest(
            project_id=project.id, title=project.name, content=project.content, language=project.language, limits=limits
        ),
        providers={stage: provider_name(stage, settings) for stage in STAGES},
        style=SubtitleStyle(**(project.subtitle_style or {})),
        logo=logo,
        privacy=project.privacy.value,
        publish_at=project.publish_at.isoformat() if project.publish_at else None,
        min_segment_seconds=settings.min_segment_seconds,
    )
