"""What a video run shows in the Prefect UI: its progress, the script, links to the results."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from prefect.artifacts import (
    create_link_artifact,
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)

from ytmaker.core.script import Script
from ytmaker.core.stages import progress_after, stage_named



def _key(project_id: int, what: str) -> str:
    return f"project-{project_id}-{what}"  # artifact keys: lowercase letters, digits, dashes


def start_progress(project_id: int) -> UUID:
    return create_progress_artifact(0.0, key=_key(project_id, "progress"), description=f"Project {project_id}")


def stage_done(artifact_id: UUID | None, stage: str) -> None:
    if artifact_id is not None:
        update_progress_artifact(artifact_id, progress_after(stage), description=f"{stage_named(stage).label} done")


def script_table(project_id: int, script: Script) -> None:
    rows: list[dict[str, Any]] = [{"part": "intro", "seconds": script.intro.duration, "text": script.intro.text, "image": ""}]
    rows += [
        {"part": f"segment {s.index}", "seconds": s.duration, "text": s.text, "image": s.image_description}
        for s in script.segments
    ]
    rows.append({"part": "outro", "seconds": script.outro.duration, "text": script.outro.text, "image": ""})
    create_table_artifact(rows, key=_key(project_id, "script"),
                          description=f"{script.metadata.title} — {script.total_duration:.0f} s (estimated)")


def results(project_id: int, video_url: str, video_path: str, thumbnail_path: str, seconds: float) -> None:
    create_link_artifact(video_url, link_text="the published video", key=_key(project_id, "video"))
    create_markdown_artifact(
        f"### Project {project_id}\n\n"
        f"* published: [{video_url}]({video_url})\n"
        f"* video file: `{video_path}` ({seconds:.1f} s)\n"
        f"* thumbnail: `{thumbnail_path}`\n",
        key=_key(project_id, "results"),
    )
