"""Finding and running ffmpeg/ffprobe, with errors that say what failed."""

from __future__ import annotations

import json
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path
from typing import Any, Sequence

from ytmaker.core.errors import MediaToolError


@lru_cache(maxsize=1)
def ffmpeg_bin() -> str:
    found = shutil.which("ffmpeg")
    if found:
        return found
    try:  # the wheel ships a static ffmpeg: good enough to render when apt's is missing
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except Exception as exc:  # pragma: no cover - depends on the machine
        raise MediaToolError("ffmpeg not found: install it with `make setup` (apt-get install ffmpeg).") from exc


@lru_cache(maxsize=1)
def ffprobe_bin() -> str:
    found = shutil.which("ffprobe")
    if not found:
        raise MediaToolError("ffprobe not found: install ffmpeg with `make setup` (apt-get install ffmpeg).")
    return found


def run_ffmpeg(args: Sequence[str], *, what: str) -> None:
    """Run ffmpeg quietly; on failure raise with the tail of its log."""
    cmd = [ffmpeg_bin(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *args]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise MediaToolError(
            f"ffmpeg failed while {what}: {result.stderr.strip()[-800:]}",
            details={"step": what, "returncode": result.returncode},
        )


def probe(path: Path) -> dict[str, Any]:
    """ffprobe's JSON for a media file (format and streams)."""
    result = subprocess.run(
        [ffprobe_bin(), "-v", "error", "-print_format", "json", "-show_format", "-show_streams", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise MediaToolError(f"ffprobe could not read {path}: {result.stderr.strip()[-500:]}")
    return json.loads(result.stdout)


def media_duration(path: Path) -> float:
    return float(probe(path)["format"]["duration"])
