"""The script model every script provider produces, and the one validator that checks it."""

from __future__ import annotations

from pydantic import BaseModel, Field

from ytmaker.core.errors import ScriptValidationError


class ScriptSection(BaseModel):
    text: str = Field(min_length=1)
    duration: float = Field(gt=0, description="Estimated seconds of narration")


class Segment(ScriptSection):
    index: int = Field(ge=1)
    image_description: str = Field(min_length=1)


class VideoMetadata(BaseModel):
    title: str = Field(min_length=1, max_length=100)
    description: str = Field(max_length=5000)
    tags: list[str] = Field(default_factory=list)


class Script(BaseModel):
    intro: ScriptSection
    segments: list[Segment] = Field(min_length=1)
    outro: ScriptSection
    metadata: VideoMetadata
    total_duration: float

    def parts(self) -> list[tuple[str, str]]:
        """(part name, narration text) in narration order: intro, segment_01.., outro."""
        return (
            [("intro", self.intro.text)]
            + [(f"segment_{s.index:02d}", s.text) for s in self.segments]
            + [("outro", self.outro.text)]
        )


class ScriptLimits(BaseModel):
    min_segment: float = 5.0
    max_segment: float = 20.0
    min_total: float = 180.0
    max_total: float = 600.0


class ScriptRequest(BaseModel):
    """What a script writer gets. Everything that can change the script is in here."""

    project_id: int
    title: str
    content: str
    language: str
    limits: ScriptLimits


def validate_script(script: Script, limits: ScriptLimits, *, project_id: int | None = None) -> Script:
    """Check durations and numbering; every violation is listed with its segment and limit."""
    problems: list[dict] = []
    expected = list(range(1, len(script.segments) + 1))
    actual = [s.index for s in script.segments]
    if actual != expected:
        problems.append({"field": "segments.index", "value": actual, "limit": f"must be {expected}"})
    for seg in script.segments:
        if not limits.min_segment <= seg.duration <= limits.max_segment:
            problems.append(
                {
                    "field": "duration",
                    "segment_index": seg.index,
                    "value": round(seg.duration, 2),
                    "limit": f"{limits.min_segment:g}-{limits.max_segment:g} s",
                }
            )
    total = script.intro.duration + sum(s.duration for s in script.segments) + script.outro.duration
    if abs(total - script.total_duration) > 1.0:
        problems.append(
            {"field": "total_duration", "value": round(script.total_duration, 2), "limit": f"sum of parts is {total:.2f} s"}
        )
    if not limits.min_total <= total <= limits.max_total:
        problems.append(
            {
                "field": "total_duration",
                "value": round(total, 2),
                "limit": f"{limits.min_total:g}-{limits.max_total:g} s",
            }
        )
    if problems:
        who = f"Project {project_id}: " if project_id is not None else ""
        lines = []
        for p in problems:
            where = f"segment {p['segment_index']} " if "segment_index" in p else ""
            lines.append(f"{where}{p['field']} {p['value']} (limit {p['limit']})")
        hint = ""
        if any(p["field"] == "total_duration" and "limit" in p and "-" in str(p["limit"]) for p in problems):
            hint = " Shorten or lengthen the content, or set YTMAKER_MIN_TOTAL_SECONDS for a short sample."
        raise ScriptValidationError(
            f"{who}script is invalid: " + "; ".join(lines) + "." + hint,
            details={"project_id": project_id, "violations": problems},
        )
    return script
