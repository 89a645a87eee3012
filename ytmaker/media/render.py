"""Render the final video: x264 codes each distinct still once, repeats are written by hand.

Why it is fast: a segment picture with one subtitle page ("shot") stays on screen for
seconds, but its frames are all the same. x264 (``cabac=0``, no B-frames, ``weightp=0``)
codes each shot once, starting on a forced IDR, and every further frame of the shot is a
P picture written here in which all macroblocks are skipped (~17 bytes, see ``h264.py``):
a skipped macroblock copies the previous picture, so the frame is bit-identical to the one
x264 coded. Render time hardly depends on how long stills stay on screen, and the file
holds one coded picture per shot (5-minute sample: 0.9x the size of a plain encode).
x264 is given the shot's first ``lookahead + 1`` frames (its preset's rc-lookahead), not
just one: that is all of the shot a plain encode would let it see, so its macroblock-tree
rate control gives the picture the same quality at the same CRF (a lone frame is coded
~6 dB worse), and its first P frames refine it as they would there.
The avatar clips (real motion) are composed (ffmpeg ``overlay`` of the same YUV subtitle
and logo layers) and encoded frame by frame by one ffmpeg process each, with the same x264
parameters (so the same SPS/PPS), beside the stills; the AAC narration (fast coder) encodes
in parallel too. The parts are joined into one Annex-B stream and muxed with the audio at
30 fps (stream copy, frame N at N/30 s).

Why it is valid: every shot and every avatar clip starts on an IDR carrying SPS and PPS;
the repeat pictures follow x264's own SPS/PPS (frame_num counting on modulo MaxFrameNum
after each IDR, pic_order_cnt_type 2, reference pictures with sliding-window marking,
CAVLC), and the renderer checks that the parameter sets allow repeats, that each shot
starts on an IDR, and every frame count before writing the stream. Seeking lands on a
shot's IDR and decodes its repeats, which cost nothing. tests/test_render.py decodes whole
renders with ``-xerror``, counts frames, checks timestamps and A/V alignment, and seeks.

Memory does not grow with the video: a shot is composed (its picture converted to YUV once
per segment, subtitle and logo blended in YUV over the rectangle they cover) when it is
encoded and dropped after; subtitle layers are not cached; the avatar's frames never pass
through Python.
"""

from __future__ import annotations

import os
import re
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from PIL import Image

from ytmaker.core.errors import MediaToolError
from ytmaker.core.hashing import file_sha256
from ytmaker.core.media_types import FPS, HEIGHT, WIDTH, Narration, RenderedVideo, SubtitleStyle
from ytmaker.media import h264
from ytmaker.media.ffmpeg import ffmpeg_bin, probe, run_ffmpeg
from ytmaker.media.subtitles import SubtitlePage, paginate, subtitle_overlay
from ytmaker.media.yuv import YuvBlend, rgb_to_yuv420

FRAME_BYTES = WIDTH * HEIGHT * 3 // 2  # yuv420p
# Avatar clips get an IDR every 2 s, so seeking into them stays cheap.
MOTION_KEYINT = 2 * FPS
# x264's rc-lookahead per preset (its preset table; tunes leave it alone). ultrafast and
# superfast have no lookahead and no macroblock tree: a few frames still let x264's first
# P frames refine the picture.
_LOOKAHEAD = {"ultrafast": 2, "superfast": 2, "veryfast": 10, "faster": 20, "fast": 30, "medium": 40,
              "slow": 50, "slower": 60, "veryslow": 60, "placebo": 60}
X264_PARAMS = "aud=1:repeat-headers=1:cabac=0:weightp=0"

ProgressFn = Callable[[float, str], None]

# The renderer draws each subtitle page once and drops it: the cached variant would keep
# up to 256 full-frame RGBA layers (8 MB each) alive for the whole run.
_draw_subtitle = getattr(subtitle_overlay, "__wrapped__", subtitle_overlay)


@dataclass
class Shot:
    """``frames`` identical frames: a picture (``None``: a placeholder) with one subtitle page."""

    picture: Path | None
    placeholder: int
    lines: tuple[str, ...]
    frames: int


@dataclass
class Motion:
    """``frames`` frames of an avatar clip with its subtitle pages (``start_frame`` in the part)."""

    clip: Path
    frames: int
    pages: list[SubtitlePage]


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


@dataclass
class RenderStats:
    """Where a render's time and bytes went (filled in by :func:`render_video` if given)."""

    shots: int = 0
    still_frames: int = 0  # frames of the video shown by stills
    x264_still_frames: int = 0  # of those, coded by x264 (the rest are repeat pictures)
    motion_frames: int = 0
    still_bytes: int = 0  # x264's part of the stills
    repeat_bytes: int = 0
    motion_bytes: int = 0
    stills_seconds: float = 0.0  # wall time to compose and encode the stills
    motion_seconds: float = 0.0  # wall time of the avatar encodes (they run beside the stills)
    motion_cpu_seconds: float = 0.0  # CPU time of the avatar encoder processes
    stills_cpu_seconds: float = 0.0  # CPU time of the stills encoder process
    audio_seconds: float = 0.0
    assemble_seconds: float = 0.0
    mux_seconds: float = 0.0
    parameter_sets_match: bool = True  # the avatar encodes wrote the stills' SPS/PPS


# ---------------------------------------------------------------- the timeline

def build_timeline(plan: RenderPlan) -> list[Shot | Motion]:
    """Every part of the narration becomes shots (pictures) or motion (avatar), in order.
    Nothing is drawn here: shots are composed when they are encoded."""
    items: list[Shot | Motion] = []
    first = min(plan.images) if plan.images else None
    for part in plan.narration.parts:
        pages = paginate(part.sentences, plan.style)
        clip = {"intro": plan.intro_clip, "outro": plan.outro_clip}.get(part.part)
        if part.part in ("intro", "outro") and clip is not None:
            items.append(Motion(clip, part.frames, pages))
            continue
        if part.part.startswith("segment_"):
            index = int(part.part.split("_")[1])
            picture = plan.images.get(index)
        else:  # an intro/outro without an avatar clip: the first picture stands in
            index, picture = 0, plan.images.get(first) if first is not None else None
        if picture is not None and not picture.exists():
            picture = None
        items.extend(Shot(picture, index, page.lines, page.frames) for page in pages if page.frames > 0)
    return items


# ---------------------------------------------------------------- composing stills

def _fit(image: Image.Image) -> Image.Image:
    image = image.convert("RGB")
    if image.size != (WIDTH, HEIGHT):
        image = image.resize((WIDTH, HEIGHT), Image.LANCZOS)
    return image


def _placeholder(index: int) -> Image.Image:
    """Stands in for a segment whose picture could not be made (the render still finishes)."""
    shade = 40 + (index * 37) % 60
    return Image.new("RGB", (WIDTH, HEIGHT), (shade, shade, shade + 20))


def _logo_layer(logo_path: Path | None) -> Image.Image | None:
    if logo_path is None:
        return None
    logo = Image.open(logo_path).convert("RGBA")
    height = 120
    logo = logo.resize((max(1, round(logo.width * height / logo.height)), height), Image.LANCZOS)
    layer = Image.new("RGBA", (WIDTH, HEIGHT), (0, 0, 0, 0))
    layer.paste(logo, (WIDTH - logo.width - 40, 40), logo)
    return layer


class _Composer:
    """Composes shots one at a time: a picture is converted to YUV once for its run of
    shots, then each shot is a copy with its subtitle and the logo blended in."""

    def __init__(self, plan: RenderPlan):
        self.style = plan.style
        layer = _logo_layer(plan.logo_path)
        self.logo = YuvBlend(layer) if layer is not None else None
        self._key: tuple[Path | None, int] | None = None
        self._base = b""
        self._drawing = threading.Lock()  # one FreeType face is shared: one drawer at a time

    def subtitle(self, lines: tuple[str, ...]) -> YuvBlend:
        with self._drawing:
            layer = _draw_subtitle(lines, self.style)
        return YuvBlend(layer)

    def still(self, shot: Shot) -> bytearray:
        key = (shot.picture, shot.placeholder)
        if key != self._key:
            image = _fit(Image.open(shot.picture)) if shot.picture is not None else _placeholder(shot.placeholder)
            self._base, self._key = rgb_to_yuv420(image), key
        frame = bytearray(self._base)
        self.subtitle(shot.lines).apply(frame)
        if self.logo is not None:
            self.logo.apply(frame)
        return frame


# ---------------------------------------------------------------- avatar clips (ffmpeg)

def _clip_input(clip: Path) -> tuple[list[str], str]:
    """Input arguments and the filter chain that make a clip 1920x1080 yuv420p BT.709 at
    30 fps, starting at 0 and holding its last frame for ever (the caller cuts it)."""
    try:
        stream = next(s for s in probe(clip)["streams"] if s.get("codec_type") == "video")
    except (MediaToolError, StopIteration, KeyError, ValueError):
        # An unreadable clip: black under its subtitles rather than a failed render.
        return ["-f", "lavfi", "-i", f"color=c=black:s={WIDTH}x{HEIGHT}:r={FPS}"], "format=yuv420p"
    size = (stream.get("width"), stream.get("height"))
    chain = ["setpts=PTS-STARTPTS"]
    if size == (WIDTH, HEIGHT) and stream.get("pix_fmt") == "yuv420p" and stream.get("color_range") != "pc":
        if stream.get("color_space") != "bt709":
            # Untagged or BT.601 clips (what ffmpeg's rgb24 -> yuv420p gives): an exact matrix
            # change in YUV, cheap (swscale's yuv->yuv path ignores the matrix).
            chain.append("colorspace=all=bt709:iall=bt601-6-525:fast=1")
    else:
        chain.append(f"scale={WIDTH}:{HEIGHT}:force_original_aspect_ratio=decrease,"
                     f"pad={WIDTH}:{HEIGHT}:(ow-iw)/2:(oh-ih)/2,"
                     "scale=out_color_matrix=bt709:out_range=tv,format=yuv420p")
    chain += [f"fps={FPS}", "tpad=stop=-1:stop_mode=clone"]
    # One decoding thread: it keeps up with x264, and frame threads only cost CPU here.
    return ["-threads", "1", "-i", str(clip)], ",".join(chain)


def _motion_graph(motion: Motion, composer: _Composer, work_dir: Path, tag: str) -> tuple[list[str], str, list[Path]]:
    """ffmpeg input arguments and a filter graph (output label ``[out]``) that compose the
    avatar clip with its subtitle pages and the logo (blended in YUV by ``overlay``, as the
    stills are), and the overlay files written for it."""
    inputs, chain = _clip_input(motion.clip)
    graph = [f"[0:v]{chain}[m0]"]
    files: list[Path] = []
    layers: list[tuple[YuvBlend, str]] = []
    for page in motion.pages:
        if page.lines and page.frames > 0:
            # Frames [start, start + frames) of the part; t is exactly n/30 after fps.
            lo, hi = (page.start_frame - 0.5) / FPS, (page.start_frame + page.frames - 0.5) / FPS
            layers.append((composer.subtitle(page.lines), f":enable='between(t,{lo:.6f},{hi:.6f})'"))
    if composer.logo is not None:
        layers.append((composer.logo, ""))
    label = "m0"
    for n, (blend, enable) in enumerate(layers, start=1):
        if blend.box is None:
            continue
        x0, y0, x1, y1 = blend.box
        path = work_dir / f"{tag}-layer{n}.yuva"
        path.write_bytes(blend.yuva420())
        files.append(path)
        inputs += ["-f", "rawvideo", "-pix_fmt", "yuva420p", "-s", f"{x1 - x0}x{y1 - y0}", "-i", str(path)]
        graph.append(f"[{label}][{len(files)}:v]overlay=x={x0}:y={y0}:format=yuv420:eof_action=repeat{enable}[m{n}]")
        label = f"m{n}"
    # Square pixels stated as the stills state them: the SAR is in the SPS (VUI).
    graph.append(f"[{label}]format=yuv420p,setsar=1[out]")
    return inputs, ";".join(graph), files


# ---------------------------------------------------------------- processes

class _Processes:
    """Every child of one render, so a failure or a cancel can end them all."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._procs: list[subprocess.Popen] = []
        self.cancelled = threading.Event()

    def start(self, cmd: list[str], **kwargs) -> subprocess.Popen:
        with self._lock:
            if self.cancelled.is_set():
                raise MediaToolError("render cancelled")
            proc = subprocess.Popen(cmd, **kwargs)
            self._procs.append(proc)
            return proc

    def kill_all(self) -> None:
        self.cancelled.set()
        with self._lock:
            procs = list(self._procs)
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:  # pragma: no cover
                pass


def _wait(proc: subprocess.Popen) -> tuple[int, float]:
    """Reap a child: (exit code, CPU seconds it used)."""
    try:
        _, status, usage = os.wait4(proc.pid, 0)
    except ChildProcessError:  # already reaped
        return proc.wait(), 0.0
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, usage.ru_utime + usage.ru_stime


_PROGRESS_LINE = re.compile(rb"^([a-z_0-9]+)=(\S*)$")


def _read_log(stream, on_frame: Callable[[int], None] | None, log: list[bytes]) -> None:
    """Drain an ffmpeg stderr that carries ``-progress`` lines: frame counts go to
    ``on_frame``, everything else is kept as the log."""
    for line in iter(stream.readline, b""):
        match = _PROGRESS_LINE.match(line.strip())
        if match:
            if match.group(1) == b"frame" and on_frame is not None and match.group(2).isdigit():
                on_frame(int(match.group(2)))
        else:
            log.append(line)


def _ffmpeg(*args: str) -> list[str]:
    return [ffmpeg_bin(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *args]


def _x264_args(plan: RenderPlan, force_key_frames: str) -> list[str]:
    """The same x264 parameters for stills and avatar clips, so both write the same SPS/PPS."""
    return [
        "-c:v", "libx264", "-preset", plan.preset, "-tune", "stillimage", "-crf", str(plan.crf),
        "-bf", "0", "-g", "100000", "-sc_threshold", "0", "-force_key_frames", force_key_frames,
        "-x264-params", X264_PARAMS,
        "-color_primaries", "bt709", "-color_trc", "bt709", "-colorspace", "bt709", "-color_range", "tv",
    ]


def _still_copies(preset: str) -> int:
    return _LOOKAHEAD.get(preset, 40) + 1


class _Progress:
    """Combined progress of the stills (fed from this thread) and the avatar encodes
    (counted by their log readers); reported from the calling thread only, never falling."""

    def __init__(self, progress: ProgressFn | None, total: int):
        self.fn, self.total = progress, max(1, total)
        self.stills = 0
        self.motion: dict[int, int] = {}
        self.last = 0.0
        self._stamp = 0.0

    def report(self, scale: float = 0.9, force: bool = False) -> None:
        if self.fn is None:
            return
        done = self.stills + sum(self.motion.values())
        value = min(scale, scale * done / self.total)
        now = time.monotonic()
        if value > self.last and (force or now - self._stamp > 0.25 or value - self.last > 0.02):
            self.last, self._stamp = value, now
            self.fn(value, f"encoded {done}/{self.total} frames")

    def step(self, value: float, message: str) -> None:
        if self.fn is not None and value >= self.last:
            self.last = value
            self.fn(value, message)


class _MotionEncoder(threading.Thread):
    """Encodes the avatar clips one after the other (the stills encode meanwhile)."""

    def __init__(self, jobs: list[Callable[[], list[str]]], procs: _Processes, counts: dict[int, int]):
        super().__init__(daemon=True)
        self.jobs, self.procs, self.counts = jobs, procs, counts  # jobs: each makes its command
        self.streams: list[bytes] = []
        self.error: BaseException | None = None
        self.cpu_seconds = 0.0
        self.seconds = 0.0

    def run(self) -> None:
        start = time.perf_counter()
        try:
            for n, job in enumerate(self.jobs):
                proc = self.procs.start(job(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                log: list[bytes] = []
                reader = threading.Thread(
                    target=_read_log, args=(proc.stderr, lambda f, n=n: self.counts.__setitem__(n, f), log), daemon=True)
                reader.start()
                data = proc.stdout.read()  # type: ignore[union-attr]
                code, cpu = _wait(proc)
                reader.join()
                self.cpu_seconds += cpu
                if code != 0:
                    tail = b"".join(log).decode(errors="replace").strip()[-800:]
                    raise MediaToolError(f"ffmpeg failed while encoding an avatar clip: {tail}",
                                         details={"step": "encoding an avatar clip", "returncode": code})
                self.streams.append(data)
        except BaseException as exc:  # handed to the main thread
            self.error = exc
        finally:
            self.seconds = time.perf_counter() - start


def _encode_stills(plan: RenderPlan, shots: list[Shot], copies: list[int], composer: _Composer,
                   procs: _Processes, tracker: _Progress, out: Path) -> float:
    """x264 codes ``copies[i]`` frames of each shot, the first an IDR. Returns its CPU seconds."""
    starts, t = [], 0
    for k in copies:
        starts.append(t)
        t += k
    # A quarter frame early: ffmpeg 5 rounds the time to the nearest frame, newer versions
    # take the first frame at or after it; both then pick the intended frame.
    force = ",".join(f"{max(0.0, s / FPS - 0.25 / FPS):.6f}" for s in starts)
    cmd = _ffmpeg("-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", f"{WIDTH}x{HEIGHT}", "-framerate", str(FPS),
                  "-color_range", "tv", "-colorspace", "bt709", "-i", "pipe:0", "-vf", "setsar=1",
                  *_x264_args(plan, force), "-f", "h264", str(out))
    proc = procs.start(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    log: list[bytes] = []
    reader = threading.Thread(target=_read_log, args=(proc.stderr, None, log), daemon=True)
    reader.start()
    assert proc.stdin is not None
    try:
        for shot, k in zip(shots, copies):
            frame = composer.still(shot)
            for _ in range(k):
                proc.stdin.write(frame)
                tracker.stills += 1
                tracker.report()
    except BrokenPipeError:
        pass  # ffmpeg died; its exit code and log tell why
    finally:
        try:
            proc.stdin.close()
        except BrokenPipeError:
            pass
    code, cpu = _wait(proc)
    reader.join()
    if code != 0:
        tail = b"".join(log).decode(errors="replace").strip()[-800:]
        raise MediaToolError(f"ffmpeg failed while encoding the stills: {tail}",
                             details={"step": "encoding the stills", "returncode": code})
    return cpu


def _parameter_sets(unit: bytes, what: str) -> tuple[bytes, bytes]:
    info = h264.picture_info(unit)
    if not info.idr or info.sps is None or info.pps is None:
        raise MediaToolError(f"{what} does not start with an IDR picture carrying SPS and PPS")
    return info.sps, info.pps


def _assemble(items: list[Shot | Motion], copies: list[int], stills: list[bytes], motions: list[bytes],
              out: Path, stats: RenderStats) -> None:
    """Write the whole video's Annex-B stream: each shot's x264 frames then its repeat
    pictures, each avatar clip's frames as encoded. Checks the structure on the way."""
    expected = sum(copies)
    if len(stills) != expected:
        raise MediaToolError(f"the stills encoder wrote {len(stills)} frames, expected {expected}")
    sps = pps = None
    reference: tuple[bytes, bytes] | None = None
    repeats: dict[int, bytes] = {}
    if stills:
        reference = _parameter_sets(stills[0], "the stills stream")
        sps, pps = h264.parse_sps(reference[0]), h264.parse_pps(reference[1])
        try:
            h264.check_repeatable(sps, pps)
        except h264.H264Error as exc:
            raise MediaToolError(str(exc)) from exc

    shot_no = motion_no = 0
    cursor = 0
    with open(out, "wb") as f:
        for item in items:
            if isinstance(item, Shot):
                k = copies[shot_no]
                units = stills[cursor : cursor + k]
                cursor += k
                shot_no += 1
                assert sps is not None and pps is not None
                first = h264.picture_info(units[0], sps)
                if not first.idr:
                    raise MediaToolError(f"shot {shot_no} does not start on an IDR picture")
                last = h264.picture_info(units[-1], sps) if k > 1 else first
                for unit in units:
                    f.write(unit)
                    stats.still_bytes += len(unit)
                # frame_num counts reference pictures (x264 makes every P one without B-frames).
                base = last.frame_num if last.nal_ref_idc else last.frame_num - 1
                for n in range(1, item.frames - k + 1):
                    frame_num = (base + n) % sps.max_frame_num
                    unit = repeats.get(frame_num)
                    if unit is None:  # a repeat picture depends only on its frame_num: built once
                        unit = repeats[frame_num] = h264.skip_picture(sps, pps, frame_num)
                    f.write(unit)
                    stats.repeat_bytes += len(unit)
            else:
                units = h264.access_units(motions[motion_no])
                motion_no += 1
                if len(units) != item.frames:
                    raise MediaToolError(f"an avatar encode wrote {len(units)} frames, expected {item.frames}")
                params = _parameter_sets(units[0], "an avatar clip's stream")
                if reference is not None and params != reference:
                    stats.parameter_sets_match = False  # still valid: each IDR carries its own
                for unit in units:
                    f.write(unit)
                    stats.motion_bytes += len(unit)


def render_video(plan: RenderPlan, progress: ProgressFn | None = None, stats: RenderStats | None = None) -> RenderedVideo:
    """Render ``plan`` to ``plan.out_path`` (written atomically) and describe the result."""
    stats = stats if stats is not None else RenderStats()
    plan.work_dir.mkdir(parents=True, exist_ok=True)
    plan.out_path.parent.mkdir(parents=True, exist_ok=True)
    items = build_timeline(plan)
    total_frames = sum(i.frames for i in items)
    if total_frames != plan.narration.frames:
        raise MediaToolError(f"timeline has {total_frames} frames but the narration {plan.narration.frames}")
    shots = [i for i in items if isinstance(i, Shot)]
    motions = [i for i in items if isinstance(i, Motion)]
    per_shot = _still_copies(plan.preset)
    copies = [min(s.frames, per_shot) for s in shots]
    stats.shots, stats.still_frames, stats.x264_still_frames = len(shots), sum(s.frames for s in shots), sum(copies)
    stats.motion_frames = sum(m.frames for m in motions)

    stills_file = plan.work_dir / "stills.h264"
    audio_file = plan.work_dir / "narration.m4a"
    assembled = plan.work_dir / "assembled.h264"
    staging = plan.out_path.with_name(plan.out_path.stem + ".part.mp4")
    temporary = [stills_file, audio_file, assembled]
    tracker = _Progress(progress, sum(copies) + stats.motion_frames)
    procs = _Processes()
    motion_encoder: _MotionEncoder | None = None
    try:
        started = time.perf_counter()
        # The AAC encode needs nothing from the video: it runs beside the video encodes.
        # x264 is busy on both cores: the fast AAC coder takes a third of the default
        # coder's CPU, and at 160 kbit/s for speech it is as good (its SNR is even higher).
        audio = procs.start(_ffmpeg("-i", plan.narration.path, "-vn", "-c:a", "aac", "-aac_coder", "fast",
                                    "-b:a", "160k", str(audio_file)),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        composer = _Composer(plan)

        def motion_job(n: int, motion: Motion) -> Callable[[], list[str]]:
            def command() -> list[str]:  # built in the encoder's thread, just before it runs
                inputs, graph, files = _motion_graph(motion, composer, plan.work_dir, f"motion{n}")
                temporary.extend(files)
                return _ffmpeg("-progress", "pipe:2", "-nostats", *inputs, "-filter_complex", graph, "-map", "[out]",
                               "-an", "-frames:v", str(motion.frames),
                               *_x264_args(plan, f"expr:eq(mod(n,{MOTION_KEYINT}),0)"), "-f", "h264", "pipe:1")
            return command

        tracker.motion.update({n: 0 for n in range(len(motions))})
        motion_encoder = _MotionEncoder([motion_job(n, m) for n, m in enumerate(motions)], procs, tracker.motion)
        motion_encoder.start()  # the longest job: it starts first

        stats.stills_cpu_seconds = _encode_stills(plan, shots, copies, composer, procs, tracker, stills_file) if shots else 0.0
        stats.stills_seconds = time.perf_counter() - started
        while motion_encoder.is_alive():
            motion_encoder.join(0.2)
            tracker.report()
        if motion_encoder.error is not None:
            raise motion_encoder.error
        stats.motion_seconds, stats.motion_cpu_seconds = motion_encoder.seconds, motion_encoder.cpu_seconds
        _, audio_log = audio.communicate()
        if audio.returncode != 0:
            raise MediaToolError(f"ffmpeg failed while encoding the narration: {audio_log.decode(errors='replace')[-500:]}")
        stats.audio_seconds = time.perf_counter() - started
        tracker.report(force=True)

        mark = time.perf_counter()
        stills = h264.access_units(stills_file.read_bytes()) if shots else []
        _assemble(items, copies, stills, motion_encoder.streams, assembled, stats)
        del stills
        stats.assemble_seconds = time.perf_counter() - mark
        tracker.step(0.95, "muxing video and narration")

        mark = time.perf_counter()
        run_ffmpeg(
            ["-framerate", str(FPS), "-f", "h264", "-i", str(assembled), "-i", str(audio_file),
             "-map", "0:v:0", "-map", "1:a:0", "-c", "copy",
             # The raw H.264 demuxer's own timestamps drift by rounding; frame N is at N/30 s.
             "-bsf:v", f"setts=ts=N/({FPS}*TB)",
             "-movflags", "+faststart", str(staging)],
            what="muxing video and narration",
        )
        os.replace(staging, plan.out_path)
        stats.mux_seconds = time.perf_counter() - mark
    except BaseException:
        procs.kill_all()  # cancelled or failed: never leave an encoder behind
        if motion_encoder is not None:
            motion_encoder.join(10)  # its encoder is gone; let it stop before the files go
        staging.unlink(missing_ok=True)
        raise
    finally:
        for tmp in temporary:
            tmp.unlink(missing_ok=True)
    tracker.step(1.0, "rendered")
    return RenderedVideo(
        path=str(plan.out_path), sha256=file_sha256(plan.out_path), frames=total_frames, seconds=total_frames / FPS
    )


# ---------------------------------------------------------------- every frame (baseline, checks)

def composed_frames(plan: RenderPlan, every: int = 1) -> Iterator[tuple[int, bytes | bytearray]]:
    """The video's frames as composed before encoding (raw yuv420p), with their numbers:
    every ``every``-th frame (0, every, 2*every, ...). The reference for quality checks, and
    what the baseline encodes."""
    composer = _Composer(plan)
    work = plan.work_dir / "composed"
    work.mkdir(parents=True, exist_ok=True)
    offset = 0
    for n, item in enumerate(build_timeline(plan)):
        first = -offset % every  # the first wanted frame inside this item
        if isinstance(item, Shot):
            if first < item.frames:
                frame = composer.still(item)
                for i in range(first, item.frames, every):
                    yield offset + i, frame
        elif first < item.frames:
            inputs, graph, files = _motion_graph(item, composer, work, f"ref{n}")
            wanted = len(range(first, item.frames, every))
            if every > 1:  # decode everything, pass on the wanted frames only
                graph = graph.replace("[out]", "[all]") + f";[all]select='not(mod(n-{first}\\,{every}))*gte(n\\,{first})'[out]"
            proc = subprocess.Popen(
                _ffmpeg(*inputs, "-filter_complex", graph, "-map", "[out]", "-an", "-frames:v", str(wanted),
                        "-vsync", "passthrough", "-f", "rawvideo", "-pix_fmt", "yuv420p", "pipe:1"),
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            try:
                assert proc.stdout is not None
                for i in range(first, item.frames, every):
                    frame = proc.stdout.read(FRAME_BYTES)
                    if len(frame) != FRAME_BYTES:
                        raise MediaToolError(f"composing avatar clip {item.clip} stopped before frame {i}")
                    yield offset + i, frame
            finally:
                proc.kill()
                proc.wait()
                for path in files:
                    path.unlink(missing_ok=True)
        offset += item.frames
    try:
        work.rmdir()
    except OSError:
        pass


def render_baseline(plan: RenderPlan, out_path: Path) -> None:
    """The plain way, for benchmarks: every frame of the same composed timeline through one
    ffmpeg command (veryfast, stillimage, x264's defaults otherwise), muxed with the narration."""
    total = plan.narration.frames
    cmd = _ffmpeg("-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", f"{WIDTH}x{HEIGHT}", "-framerate", str(FPS),
                  "-color_range", "tv", "-colorspace", "bt709", "-i", "pipe:0",
                  "-i", plan.narration.path, "-map", "0:v:0", "-map", "1:a:0",
                  "-c:v", "libx264", "-preset", "veryfast", "-tune", "stillimage", "-crf", str(plan.crf),
                  "-color_primaries", "bt709", "-color_trc", "bt709", "-colorspace", "bt709",
                  "-c:a", "aac", "-b:a", "160k", "-movflags", "+faststart", str(out_path))
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    log: list[bytes] = []
    reader = threading.Thread(target=_read_log, args=(proc.stderr, None, log), daemon=True)
    reader.start()
    frames = composed_frames(plan)
    assert proc.stdin is not None
    written = 0
    try:
        for _, frame in frames:
            proc.stdin.write(frame)
            written += 1
        proc.stdin.close()
    except BrokenPipeError:
        pass
    except BaseException:
        proc.kill()
        raise
    finally:
        frames.close()
    code = proc.wait()
    reader.join()
    if code != 0 or written != total:
        tail = b"".join(log).decode(errors="replace").strip()[-800:]
        raise MediaToolError(f"ffmpeg failed while encoding the baseline ({written}/{total} frames): {tail}")
