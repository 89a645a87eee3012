"""Render the final video: one x264 encode of pre-composed frames, then a stream-copy mux.

Why it is fast: a segment picture with one subtitle page stays on screen for seconds, but
its frames are all the same. Each such "shot" is encoded once as a short closed piece
(at most ``PIECE_FRAMES`` frames, starting on an IDR frame), and the final H.264 stream
lists that piece as many times as the shot needs (plus a prefix of it for the rest).
No B-frames, so any prefix of a piece is itself a valid piece. Moving pictures (the avatar
clips) are encoded frame by frame. Frames are composed with Pillow (subtitle and logo
drawn once per shot, pasted per frame only for the avatar), never per frame in moviepy.
"""

from __future__ import annotations

import os
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from PIL import Image

from ytmaker.core.errors import MediaToolError
from ytmaker.media.ffmpeg import ffmpeg_bin, run_ffmpeg
from ytmaker.core.hashing import file_sha256
from ytmaker.core.media_types import FPS, HEIGHT, WIDTH, Narration, RenderedVideo, SubtitleStyle
from ytmaker.media.subtitles import paginate, subtitle_overlay
from ytmaker.media.yuv import YuvBlend, rgb_to_yuv420

# Longest piece of a still shot: each repeat of a piece starts with an IDR frame, so short
# pieces encode fewer frames but make a bigger file. Measured on the 5-minute sample:
# 1 s -> 77 MB, 2 s -> 45 MB (+25 % render time), 3 s -> 33 MB (+75 %).
PIECE_FRAMES = 2 * FPS
FRAME_BYTES = WIDTH * HEIGHT * 3 // 2  # yuv420p

ProgressFn = Callable[[float, str], None]


@dataclass
class Shot:
    """``frames`` identical frames."""

    frame: bytes
    frames: int


@dataclass
class Motion:
    """``frames`` distinct frames produced by ``source``."""

    source: Callable[[], Iterator[bytes | bytearray]]
    frames: int


@dataclass
class RenderPlan:
    narration: Narration
    images: dict[int, Path]  # segment index -> picture
    intro_clip: Path | None
    outro_clip: Path | None
    out_path: Path
    work_dir: Path
    style: SubtitleStyle = field(default_factory=SubtitleStyle)
    logo_path: Path | None = None
    crf: int = 23
    preset: str = "veryfast"


# ---------------------------------------------------------------- composing frames

def _fit(image: Image.Image) -> Image.Image:
    image = image.convert("RGB")
    if image.size != (WIDTH, HEIGHT):
        image = image.resize((WIDTH, HEIGHT), Image.LANCZOS)
    return image


def _logo_layer(logo_path: Path | None) -> Image.Image | None:
    if logo_path is None:
        return None
    logo = Image.open(logo_path).convert("RGBA")
    height = 120
    logo = logo.resize((max(1, round(logo.width * height / logo.height)), height), Image.LANCZOS)
    layer = Image.new("RGBA", (WIDTH, HEIGHT), (0, 0, 0, 0))
    layer.paste(logo, (WIDTH - logo.width - 40, 40), logo)
    return layer


def _paste(frame: Image.Image, layer: Image.Image | None) -> None:
    """Alpha-paste a full-frame layer, touching only the region it covers."""
    if layer is None:
        return
    box = layer.getbbox()
    if box is not None:
        region = layer.crop(box)
        frame.paste(region, box[:2], region)


def _compose(base: Image.Image, overlay: Image.Image, logo: Image.Image | None) -> bytes:
    frame = base.copy()
    _paste(frame, overlay)
    _paste(frame, logo)
    return rgb_to_yuv420(frame)


def _placeholder(index: int) -> Image.Image:
    """Stands in for a segment whose picture could not be made (the render still finishes)."""
    shade = 40 + (index * 37) % 60
    return Image.new("RGB", (WIDTH, HEIGHT), (shade, shade, shade + 20))


def _clip_frames(clip: Path, frames: int) -> Iterator[bytearray]:
    """Decode a clip to exactly ``frames`` 1080p30 frames (last frame held if it is short).
    Each frame is yielded in a fresh writable buffer the caller may change in place."""
    proc = subprocess.Popen(
        [ffmpeg_bin(), "-nostdin", "-loglevel", "error", "-i", str(clip), "-an", "-vf",
         f"scale={WIDTH}:{HEIGHT}:force_original_aspect_ratio=decrease,"
         f"pad={WIDTH}:{HEIGHT}:(ow-iw)/2:(oh-ih)/2,fps={FPS},"
         "scale=out_color_matrix=bt709:out_range=tv",
         # The clip's colours, converted to the output's BT.709 limited-range 4:2:0.
         "-f", "rawvideo", "-pix_fmt", "yuv420p", "pipe:1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    last = bytearray(b"\x10" * (WIDTH * HEIGHT) + b"\x80" * (WIDTH * HEIGHT // 2))  # black until the first frame
    view = memoryview(last)
    ended = False
    try:
        for _ in range(frames):
            got = 0
            while not ended and got < FRAME_BYTES:
                n = proc.stdout.readinto(view[got:])
                if not n:
                    ended = True  # a short clip: the newest complete frame is held
                got += n or 0
            yield bytearray(last)  # a copy: the caller draws on it, ``last`` stays clean
    finally:
        proc.kill()
        proc.wait()


def build_timeline(plan: RenderPlan) -> list[Shot | Motion]:
    """Every part of the narration becomes shots (pictures) or motion (avatar), in order."""
    logo = _logo_layer(plan.logo_path)
    items: list[Shot | Motion] = []
    for part in plan.narration.parts:
        pages = paginate(part.sentences, plan.style)
        clip = {"intro": plan.intro_clip, "outro": plan.outro_clip}.get(part.part)
        if part.part in ("intro", "outro") and clip is not None:
            items.append(_avatar_motion(clip, part.frames, pages, plan.style, logo))
            continue
        if part.part.startswith("segment_"):
            index = int(part.part.split("_")[1])
            path = plan.images.get(index)
            base = _fit(Image.open(path)) if path is not None and path.exists() else _placeholder(index)
        else:  # an intro/outro without an avatar clip: the first picture stands in
            first = plan.images.get(min(plan.images)) if plan.images else None
            base = _fit(Image.open(first)) if first is not None and first.exists() else _placeholder(0)
        for page in pages:
            items.append(Shot(_compose(base, subtitle_overlay(page.lines, plan.style), logo), page.frames))
    return items


def _avatar_motion(clip: Path, frames: int, pages, style: SubtitleStyle, logo: Image.Image | None) -> Motion:
    def source() -> Iterator[bytes]:
        # Which subtitle page is on screen at each frame of the part.
        schedule: list[tuple[str, ...]] = []
        for page in pages:
            schedule.extend([page.lines] * page.frames)
        blends: dict[tuple[str, ...], YuvBlend] = {}
        logo_blend = YuvBlend(logo) if logo is not None else None
        for i, raw in enumerate(_clip_frames(clip, frames)):
            lines = schedule[i] if i < len(schedule) else ()
            if lines not in blends:
                blends[lines] = YuvBlend(subtitle_overlay(lines, style))
            # Blend in place on the decoded frame: only the subtitle and logo rectangles change.
            blends[lines].apply(raw)
            if logo_blend is not None:
                logo_blend.apply(raw)
            yield raw

    return Motion(source, frames)


# ---------------------------------------------------------------- encoding

@dataclass
class _Piece:
    first_frame: int  # index of its first frame in the encoded stream
    frames: int


def _plan_pieces(items: list[Shot | Motion]) -> tuple[list[_Piece], list[tuple[int, int]]]:
    """Encoded pieces, and the playlist: (piece number, frames taken from its start)."""
    pieces: list[_Piece] = []
    playlist: list[tuple[int, int]] = []
    cursor = 0
    for item in items:
        if isinstance(item, Shot):
            size = min(item.frames, PIECE_FRAMES)
            pieces.append(_Piece(cursor, size))
            cursor += size
            full, rest = divmod(item.frames, size)
            playlist += [(len(pieces) - 1, size)] * full
            if rest:
                playlist.append((len(pieces) - 1, rest))
        else:
            # Motion gets a keyframe every two seconds so the result stays seekable.
            remaining = item.frames
            while remaining > 0:
                size = min(remaining, 2 * FPS)
                pieces.append(_Piece(cursor, size))
                playlist.append((len(pieces) - 1, size))
                cursor += size
                remaining -= size
    return pieces, playlist


def _encoded_frames(items: list[Shot | Motion]) -> Iterator[bytes]:
    for item in items:
        if isinstance(item, Shot):
            for _ in range(min(item.frames, PIECE_FRAMES)):
                yield item.frame
        else:
            yield from item.source()


def _expanded_frames(items: list[Shot | Motion]) -> Iterator[bytes]:
    for item in items:
        if isinstance(item, Shot):
            for _ in range(item.frames):
                yield item.frame
        else:
            yield from item.source()


def _feed(proc: subprocess.Popen, frames: Iterator[bytes], total: int, progress: ProgressFn | None) -> None:
    assert proc.stdin is not None
    step = max(1, total // 20)
    try:
        for n, frame in enumerate(frames, start=1):
            proc.stdin.write(frame)
            if progress and n % step == 0:
                progress(n / total, f"encoded {n}/{total} frames")
    except BrokenPipeError:
        pass  # ffmpeg died; its exit code and log tell why
    finally:
        try:
            proc.stdin.close()
        except BrokenPipeError:
            pass


def _run_encoder(args: list[str], frames: Iterator[bytes], total: int, progress: ProgressFn | None, what: str) -> None:
    cmd = [ffmpeg_bin(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
           "-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", f"{WIDTH}x{HEIGHT}", "-framerate", str(FPS),
           "-color_range", "tv", "-colorspace", "bt709",
           "-i", "pipe:0", *args]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    errors: list[bytes] = []
    reader = threading.Thread(target=lambda: errors.append(proc.stderr.read()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    try:
        _feed(proc, frames, total, progress)
        code = proc.wait()
    except BaseException:
        proc.kill()  # cancelled or failed: never leave an encoder behind
        proc.wait()
        close = getattr(frames, "close", None)
        if close:
            close()  # ends the frame generators now, and with them any clip decoder they run
        raise
    reader.join()
    if code != 0:
        log = b"".join(errors).decode(errors="replace").strip()[-800:]
        raise MediaToolError(f"ffmpeg failed while {what}: {log}", details={"step": what, "returncode": code})


def _access_units(stream: bytes) -> tuple[list[int], list[int]]:
    """Byte offsets where each access unit starts (x264 writes an AUD NAL before each
    frame), and the numbers of the frames that are IDR pictures."""
    starts: list[int] = []
    idr_frames: list[int] = []
    pos = stream.find(b"\x00\x00\x01")
    while pos != -1 and pos + 3 < len(stream):
        nal_type = stream[pos + 3] & 0x1F
        if nal_type == 9:
            starts.append(pos - 1 if pos > 0 and stream[pos - 1] == 0 else pos)
        elif nal_type == 5 and (not idr_frames or idr_frames[-1] != len(starts) - 1):
            idr_frames.append(len(starts) - 1)
        pos = stream.find(b"\x00\x00\x01", pos + 3)
    return starts, idr_frames


def _x264_args(plan: RenderPlan, keyframe_times: list[float]) -> list[str]:
    return [
        "-c:v", "libx264", "-preset", plan.preset, "-tune", "stillimage", "-crf", str(plan.crf),
        "-bf", "0", "-g", "100000", "-sc_threshold", "0",
        # A quarter frame early: ffmpeg 5 rounds the time to the nearest frame, newer
        # versions take the first frame at or after it; both then pick the intended frame.
        "-force_key_frames", ",".join(f"{max(0.0, t - 0.25 / FPS):.6f}" for t in keyframe_times),
        "-x264-params", "aud=1:repeat-headers=1",
        "-color_primaries", "bt709", "-color_trc", "bt709", "-colorspace", "bt709",
    ]


def render_video(plan: RenderPlan, progress: ProgressFn | None = None) -> RenderedVideo:
    """Render ``plan`` to ``plan.out_path`` (written atomically) and describe the result."""
    plan.work_dir.mkdir(parents=True, exist_ok=True)
    plan.out_path.parent.mkdir(parents=True, exist_ok=True)
    items = build_timeline(plan)
    pieces, playlist = _plan_pieces(items)
    encoded_total = sum(p.frames for p in pieces)
    total_frames = sum(frames for _, frames in playlist)
    if total_frames != plan.narration.frames:
        raise MediaToolError(f"timeline has {total_frames} frames but the narration {plan.narration.frames}")

    pieces_file = plan.work_dir / "pieces.h264"
    audio_file = plan.work_dir / "narration.m4a"
    # The AAC encode needs nothing from the video: it runs beside the video encode.
    audio = subprocess.Popen(
        [ffmpeg_bin(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-i", plan.narration.path,
         "-vn", "-c:a", "aac", "-b:a", "160k", str(audio_file)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        _run_encoder(
            [*_x264_args(plan, [p.first_frame / FPS for p in pieces]), "-f", "h264", str(pieces_file)],
            _encoded_frames(items), encoded_total,
            (lambda f, m: progress(0.9 * f, m)) if progress else None, "encoding the video",
        )
    except BaseException:
        audio.kill()
        audio.wait()
        raise
    _, audio_errors = audio.communicate()
    if audio.returncode != 0:
        raise MediaToolError(f"ffmpeg failed while encoding the narration: {audio_errors.decode(errors='replace')[-500:]}")
    stream = pieces_file.read_bytes()
    starts, idr_frames = _access_units(stream)
    starts.append(len(stream))
    if len(starts) - 1 != encoded_total or idr_frames != [p.first_frame for p in pieces]:
        # Pieces can only be reused if each starts exactly on an IDR frame.
        raise MediaToolError(
            f"encoder output does not match the plan: {len(starts) - 1} frames (expected {encoded_total}), "
            f"keyframes at {idr_frames[:8]}... (expected {[p.first_frame for p in pieces][:8]}...)"
        )

    assembled = plan.work_dir / "assembled.h264"
    with open(assembled, "wb") as out:
        for number, frames in playlist:
            first = pieces[number].first_frame
            out.write(stream[starts[first] : starts[first + frames]])
    if progress:
        progress(0.95, "muxing video and narration")

    staging = plan.out_path.with_name(plan.out_path.stem + ".part.mp4")
    run_ffmpeg(
        ["-framerate", str(FPS), "-f", "h264", "-i", str(assembled), "-i", str(audio_file),
         "-map", "0:v:0", "-map", "1:a:0", "-c", "copy",
         # The raw H.264 demuxer's own timestamps drift by rounding; frame N is at N/30 s.
         "-bsf:v", f"setts=ts=N/({FPS}*TB)",
         "-movflags", "+faststart", str(staging)],
        what="muxing video and narration",
    )
    os.replace(staging, plan.out_path)
    for tmp in (pieces_file, assembled, audio_file):
        tmp.unlink(missing_ok=True)
    if progress:
        progress(1.0, "rendered")
    return RenderedVideo(
        path=str(plan.out_path), sha256=file_sha256(plan.out_path), frames=total_frames, seconds=total_frames / FPS
    )


def render_baseline(plan: RenderPlan, out_path: Path) -> None:
    """The plain way, for benchmarks: every frame of the same timeline through one ffmpeg
    command (veryfast, stillimage), muxed with the narration."""
    items = build_timeline(plan)
    total = sum(i.frames for i in items)
    _run_encoder(
        ["-i", plan.narration.path, "-map", "0:v:0", "-map", "1:a:0",
         "-c:v", "libx264", "-preset", "veryfast", "-tune", "stillimage", "-crf", str(plan.crf),
         "-color_primaries", "bt709", "-color_trc", "bt709", "-colorspace", "bt709", "-c:a", "aac", "-b:a", "160k", "-movflags", "+faststart", str(out_path)],
        _expanded_frames(items), total, None, "encoding the baseline",
    )
