"""Shared checks on real media files (ffprobe/ffmpeg), used by several test modules."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np

from ytmaker.media.ffmpeg import ffmpeg_bin, ffprobe_bin, probe


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


def assert_valid_stream(video: Path, expected_frames: int) -> None:
    """The whole file decodes without a single error, has exactly ``expected_frames`` video
    frames at a constant 30 fps, 1920x1080 yuv420p H.264 + AAC, timestamps that only rise,
    and audio and video that start and end within one frame of each other."""
    decoded = subprocess.run([ffmpeg_bin(), "-v", "error", "-xerror", "-i", str(video), "-f", "null", "-"],
                             capture_output=True, text=True)
    assert decoded.returncode == 0 and decoded.stderr.strip() == "", decoded.stderr[-2000:]

    counted = subprocess.run(
        [ffprobe_bin(), "-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries",
         "stream=nb_read_frames,r_frame_rate,avg_frame_rate,width,height,pix_fmt,codec_name",
         "-of", "json", str(video)], capture_output=True, text=True, check=True)
    v = json.loads(counted.stdout)["streams"][0]
    assert (v["codec_name"], v["width"], v["height"], v["pix_fmt"]) == ("h264", 1920, 1080, "yuv420p"), v
    assert v["r_frame_rate"] == "30/1" and v["avg_frame_rate"] == "30/1", v
    assert int(v["nb_read_frames"]) == expected_frames, (v["nb_read_frames"], expected_frames)

    packets = json.loads(subprocess.run(
        [ffprobe_bin(), "-v", "error", "-show_entries", "packet=stream_index,pts_time,dts_time,duration_time",
         "-show_entries", "stream=index,codec_type,codec_name,start_time,duration", "-of", "json", str(video)],
        capture_output=True, text=True, check=True).stdout)
    kinds = {s["index"]: s["codec_type"] for s in packets["streams"]}
    assert sorted(kinds.values()) == ["audio", "video"], kinds
    assert {s["codec_name"] for s in packets["streams"]} == {"h264", "aac"}
    by_kind: dict[str, list[dict]] = {"audio": [], "video": []}
    for p in packets["packets"]:
        by_kind[kinds[p["stream_index"]]].append(p)
    video_pts = [float(p["pts_time"]) for p in by_kind["video"]]
    assert len(video_pts) == expected_frames
    # No B-frames: decode order is display order, one frame every 1/30 s.
    assert all(float(p["dts_time"]) == float(p["pts_time"]) for p in by_kind["video"])
    assert all(abs((b - a) - 1 / 30) < 1e-3 for a, b in zip(video_pts, video_pts[1:])), "video timestamps"
    audio_dts = [float(p["dts_time"]) for p in by_kind["audio"]]
    assert all(b > a for a, b in zip(audio_dts, audio_dts[1:])), "audio timestamps"

    streams = {s["codec_type"]: s for s in packets["streams"]}
    v_start, a_start = float(streams["video"]["start_time"]), float(streams["audio"]["start_time"])
    v_end = v_start + float(streams["video"]["duration"])
    a_end = a_start + float(streams["audio"]["duration"])
    assert abs(v_start - a_start) <= 1 / 30, (v_start, a_start)
    assert abs(v_end - a_end) <= 1 / 30, (v_end, a_end)
    assert abs(v_end - expected_frames / 30) <= 1e-3, (v_end, expected_frames)


def frame_after_seek(video: Path, seconds: float) -> np.ndarray:
    """The frame a player shows after seeking to ``seconds`` (``-ss`` before ``-i``), yuv420p."""
    out = subprocess.run(
        [ffmpeg_bin(), "-v", "error", "-ss", f"{seconds:.3f}", "-i", str(video), "-frames:v", "1",
         "-f", "rawvideo", "-pix_fmt", "yuv420p", "pipe:1"],
        capture_output=True, check=True,
    ).stdout
    assert len(out) == 1920 * 1080 * 3 // 2, f"no frame after seeking to {seconds} s"
    return np.frombuffer(out, np.uint8)
