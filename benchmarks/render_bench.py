"""Render benchmark: ytmaker's renderer against a plain single-command ffmpeg encode of the
same frames, measured in the same run on the same machine.

    make bench-render            # the 5-minute Traditional Chinese sample
    .venv/bin/python benchmarks/render_bench.py --long --no-baseline   # ~10 minutes, memory

Prints seconds of render per second of video (rtf) for both, ``ratio: R`` = render time /
baseline time (lower is better; the target is R <= 0.2), ``size ratio: S`` = our file's
bytes / the baseline's (target <= 1.0), the PSNR of both against the composed frames
(every 10th frame, decoded, compared in numpy; ours should not be lower), where our time
went (the avatar clips, i.e. real motion, separately), and the peak memory of the render.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ytmaker.core.media_types import FPS, HEIGHT, WIDTH  # noqa: E402
from ytmaker.media.ffmpeg import ffmpeg_bin, probe  # noqa: E402
from ytmaker.media.narration import mix_narration, narrate_part  # noqa: E402
from ytmaker.core.paths import ProjectPaths  # noqa: E402
from ytmaker.providers.base import AvatarRequest, ImageRequest  # noqa: E402
from ytmaker.providers.espeak import EspeakSynthesizer  # noqa: E402
from ytmaker.providers.local import DrawnAvatarGenerator, PillowImageGenerator  # noqa: E402
from ytmaker.providers.local_script import LocalScriptWriter  # noqa: E402
from ytmaker.media.render import (  # noqa: E402
    Motion, RenderPlan, RenderStats, build_timeline, composed_frames, render_baseline, render_video,
)
from ytmaker.core.script import ScriptLimits, ScriptRequest  # noqa: E402

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "samples" / "taipei-101.zh-TW.txt"
EVERY = 10  # PSNR on every 10th frame


def prepare(out: Path) -> RenderPlan:
    """Real inputs, made once and reused by later benchmark runs."""
    paths = ProjectPaths(0, out / "project")
    script = LocalScriptWriter().write(ScriptRequest(
        project_id=0, title="台北一零一：竹子造型的摩天大樓", content=SAMPLE.read_text(encoding="utf-8"),
        language="zh-TW", limits=ScriptLimits(),
    ))
    synth = EspeakSynthesizer()
    parts = [
        narrate_part(synth, part=name, text=text, language="zh-TW", out_wav=paths.part_audio(name),
                     min_seconds=5.0 if name.startswith("segment_") else 0.0)
        for name, text in script.parts()
    ]
    narration = mix_narration(parts, paths.full_audio)
    images = {}
    for seg in script.segments:
        path = paths.image(seg.index)
        if not path.exists():
            PillowImageGenerator().generate(ImageRequest(
                project_id=0, segment_index=seg.index, segment_count=len(script.segments),
                description=seg.image_description, title=script.metadata.title, language="zh-TW"), path)
        images[seg.index] = path
    clips = {}
    for which, part in (("intro", parts[0]), ("outro", parts[-1])):
        path = paths.avatar(which)
        if not path.exists():
            DrawnAvatarGenerator().generate(AvatarRequest(
                project_id=0, which=which, text=part.sentences[0].text, language="zh-TW", audio_path=part.path), path)
        clips[which] = path
    return RenderPlan(narration=narration, images=images, intro_clip=clips["intro"], outro_clip=clips["outro"],
                      out_path=paths.final_video, work_dir=paths.work_dir)


def lengthen(plan: RenderPlan, out: Path) -> RenderPlan:
    """The same video with its segments told twice (~10 minutes)."""
    parts = plan.narration.parts
    intro, segments, outro = parts[0], parts[1:-1], parts[-1]
    count = len(segments)
    again = [p.model_copy(update={"part": f"segment_{int(p.part.split('_')[1]) + count:02d}"}) for p in segments]
    narration = mix_narration([intro, *segments, *again, outro], out / "long" / "full_audio.mp3")
    images = {**plan.images, **{i + count: path for i, path in plan.images.items()}}
    return RenderPlan(narration=narration, images=images, intro_clip=plan.intro_clip, outro_clip=plan.outro_clip,
                      out_path=out / "long" / "final_video.mp4", work_dir=out / "long" / "work")


class PeakMemory:
    """Peak of the summed RSS of this process and all its descendants, sampled every 0.1 s
    from /proc (shared library pages count once per process: an over-estimate)."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._page = os.sysconf("SC_PAGE_SIZE")

    def _sample(self) -> int:
        children: dict[int, list[int]] = {}
        rss: dict[int, int] = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat", "rb") as f:
                    stat = f.read()
            except OSError:
                continue
            fields = stat[stat.rfind(b")") + 2:].split()
            pid = int(entry)
            children.setdefault(int(fields[1]), []).append(pid)
            rss[pid] = int(fields[21]) * self._page
        total, todo = 0, [os.getpid()]
        while todo:
            pid = todo.pop()
            total += rss.get(pid, 0)
            todo += children.get(pid, [])
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._sample())
            self._stop.wait(0.1)

    def __enter__(self) -> "PeakMemory":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._sample())


def _decoded(video: Path, every: int):
    proc = subprocess.Popen(
        [ffmpeg_bin(), "-v", "error", "-i", str(video), "-map", "0:v:0", "-vf", f"select=not(mod(n\\,{every}))",
         "-vsync", "passthrough", "-f", "rawvideo", "-pix_fmt", "yuv420p", "pipe:1"],
        stdout=subprocess.PIPE)
    assert proc.stdout is not None
    try:
        while True:
            frame = proc.stdout.read(WIDTH * HEIGHT * 3 // 2)
            if len(frame) < WIDTH * HEIGHT * 3 // 2:
                return
            yield np.frombuffer(frame, np.uint8)
    finally:
        proc.kill()
        proc.wait()


def _psnr(sq_err: float, count: int) -> float:
    return float("inf") if sq_err == 0 else 10 * np.log10(255.0**2 * count / sq_err)


def quality(plan: RenderPlan, videos: list[Path]) -> list[dict[str, float]]:
    """PSNR (Y, and Y/U/V weighted by their samples) of each video against the composed
    frames, on every EVERY-th frame, for the stills and the avatar frames separately."""
    motion_ranges, offset = [], 0
    for item in build_timeline(plan):
        if isinstance(item, Motion):
            motion_ranges.append((offset, offset + item.frames))
        offset += item.frames
    luma = WIDTH * HEIGHT
    sums = [{k: [0.0, 0] for k in ("stills", "avatar", "stills_y", "avatar_y")} for _ in videos]
    decoders = [_decoded(v, EVERY) for v in videos]
    for n, ref in composed_frames(plan, every=EVERY):
        ref32 = np.frombuffer(ref, np.uint8).astype(np.float32)
        kind = "avatar" if any(a <= n < b for a, b in motion_ranges) else "stills"
        for dec, acc in zip(decoders, sums):
            diff = next(dec).astype(np.float32) - ref32
            y = float(np.dot(diff[:luma], diff[:luma]))
            acc[kind][0] += y + float(np.dot(diff[luma:], diff[luma:]))
            acc[kind][1] += diff.size
            acc[kind + "_y"][0] += y
            acc[kind + "_y"][1] += luma
    out = []
    for acc in sums:
        both = [acc["stills"][0] + acc["avatar"][0], acc["stills"][1] + acc["avatar"][1]]
        out.append({"all": _psnr(*both), **{k: _psnr(*v) for k, v in acc.items() if v[1]}})
    return out


def cpu_seconds() -> float:
    """User + system CPU time of this process and its (waited-for) children so far."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "out")
    parser.add_argument("--long", action="store_true", help="segments told twice: a ~10-minute video")
    parser.add_argument("--no-baseline", action="store_true", help="only our render (and its memory)")
    args = parser.parse_args()
    print("preparing the 5-minute sample (narration, pictures, avatars)...", flush=True)
    plan = prepare(args.out)
    if args.long:
        plan = lengthen(plan, args.out)
    seconds = plan.narration.seconds
    print(f"video: {seconds:.1f} s, {plan.narration.frames} frames, {len(plan.images)} pictures, "
          f"preset {plan.preset}, crf {plan.crf}", flush=True)

    stats = RenderStats()
    with PeakMemory() as memory:
        start, cpu = time.perf_counter(), cpu_seconds()
        render_video(plan, stats=stats)
        ours, ours_cpu = time.perf_counter() - start, cpu_seconds() - cpu
    ours_size = int(probe(plan.out_path)["format"]["size"])
    print(f"ytmaker render:  {ours:7.2f} s  rtf {ours / seconds:.3f}  ({ours_size / 1e6:.1f} MB)  "
          f"CPU {ours_cpu:.1f} s", flush=True)
    s = stats
    print(f"  stills: {s.shots} shots, {s.still_frames} frames: {s.x264_still_frames} coded by x264 "
          f"({s.still_bytes / 1e6:.2f} MB), {s.still_frames - s.x264_still_frames} repeat pictures "
          f"({s.repeat_bytes / 1e3:.0f} kB); composed+encoded in {s.stills_seconds:.2f} s wall, "
          f"x264 {s.stills_cpu_seconds:.2f} CPU-s")
    print(f"  avatar (motion): {s.motion_frames} frames = {s.motion_frames / FPS:.1f} s "
          f"({100 * s.motion_frames / max(1, plan.narration.frames):.0f} % of the video), "
          f"{s.motion_bytes / 1e6:.2f} MB; {s.motion_seconds:.2f} s wall beside the stills, "
          f"{s.motion_cpu_seconds:.2f} CPU-s = {1000 * s.motion_cpu_seconds / max(1, s.motion_frames):.1f} CPU-ms/frame "
          f"(stills: {1000 * s.stills_cpu_seconds / max(1, s.still_frames):.2f} CPU-ms/frame of video)")
    print(f"  narration AAC done at {s.audio_seconds:.2f} s; assembling {s.assemble_seconds:.2f} s, "
          f"muxing {s.mux_seconds:.2f} s; avatar SPS/PPS = stills SPS/PPS: {s.parameter_sets_match}")
    print(f"peak memory: {memory.peak / 1e6:.0f} MB  (sum of RSS of this process and all its child processes, "
          f"sampled every 0.1 s during the render; this process alone peaked at "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3:.0f} MB, ru_maxrss)", flush=True)
    if args.no_baseline:
        return 0

    baseline_file = args.out / "baseline.mp4"
    start, cpu = time.perf_counter(), cpu_seconds()
    render_baseline(plan, baseline_file)
    base, base_cpu = time.perf_counter() - start, cpu_seconds() - cpu
    base_size = int(probe(baseline_file)["format"]["size"])
    print(f"ffmpeg baseline: {base:7.2f} s  rtf {base / seconds:.3f}  ({base_size / 1e6:.1f} MB)  "
          f"CPU {base_cpu:.1f} s  one command, veryfast, stillimage", flush=True)
    q_ours, q_base = quality(plan, [plan.out_path, baseline_file])
    for name, q in (("ytmaker", q_ours), ("baseline", q_base)):
        print(f"PSNR {name:8s} vs composed frames (every {EVERY}th): all {q['all']:.2f} dB  "
              f"stills {q['stills']:.2f} dB (Y {q['stills_y']:.2f})  "
              + (f"avatar {q['avatar']:.2f} dB (Y {q['avatar_y']:.2f})" if "avatar" in q else ""))
    print(f"PSNR difference (ours - baseline): {q_ours['all'] - q_base['all']:+.2f} dB")
    print(f"size ratio: {ours_size / base_size:.3f}")
    print(f"CPU ratio: {ours_cpu / base_cpu:.3f}  (CPU seconds, ours / baseline: less sensitive to a busy machine)")
    print(f"ratio: {ours / base:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
