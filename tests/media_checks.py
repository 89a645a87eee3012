"""Shared checks on real media files (ffprobe/ffmpeg), used by several test modules."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np

from ytmaker.media.ffmpeg import ffmpeg_bin, probe


def assert_youtube_ready(video: Path, expected_seconds: float) -> dict:
    """1920x1080, 30 fps constant, H.264 yuv420p + AAC, duration within 2 % of the narration."""
    info = probe(video)
    v = next(s for s in info["streams"] if s["codec_type"] == "video")
    a = next(s for s in info["streams"] if s["codec_type"] == "audio")
    assert (v["codec_name"], v["width"], v["height"], v["pix_fmt"]) == ("h264", 1920, 1080, "yuv420p")
    assert v["r_frame_rate"] == "30/1" and v["avg_frame_rate"] == "30/1"
    assert a["codec_name"] == "aac"
    duration = float(info["format"]["duration"])
    assert abs(duration - expected_seconds) <= 0.02 * expected_seconds, (duration, expected_seconds)
    # MP3 framing (encoder delay, 1152-sample frames) can add up to ~0.1 s to the narration file.
    assert abs(int(v["nb_frames"]) / 30 - expected_seconds) <= 0.15, (v["nb_frames"], expected_seconds)
    return info


def frame_at(video: Path, frame_number: int) -> np.ndarray:
    """Decode one frame exactly (decoding from the start, not seeking to a keyframe)."""
    out = subprocess.run(
        [ffmpeg_bin(), "-v", "error", "-i", str(video), "-vf", f"select=eq(n\\,{frame_number})",
         "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"],
        capture_output=True, check=True,
    ).stdout
    assert len(out) == 1920 * 1080 * 3, f"frame {frame_number} not decoded"
    return np.frombuffer(out, np.uint8).reshape(1080, 1920, 3)


def mean_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())
