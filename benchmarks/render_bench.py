"""Render benchmark: ytmaker's renderer against a plain single-command ffmpeg encode of the
same frames, measured in the same run on the same machine.

    make bench-render            # the 5-minute Traditional Chinese sample

Prints seconds of render per second of video (rtf) for both, then ``ratio: R`` =
render time / baseline time (lower is better; the target is R <= 0.5).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ytmaker.media.ffmpeg import probe  # noqa: E402
from ytmaker.media.narration import mix_narration, narrate_part  # noqa: E402
from ytmaker.core.paths import ProjectPaths  # noqa: E402
from ytmaker.providers.base import AvatarRequest, ImageRequest  # noqa: E402
from ytmaker.providers.espeak import EspeakSynthesizer  # noqa: E402
from ytmaker.providers.local import DrawnAvatarGenerator, PillowImageGenerator  # noqa: E402
from ytmaker.providers.local_script import LocalScriptWriter  # noqa: E402
from ytmaker.media.render import RenderPlan, render_baseline, render_video  # noqa: E402
from ytmaker.core.script import ScriptLimits, ScriptRequest  # noqa: E402

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "samples" / "taipei-101.zh-TW.txt"


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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "out")
    args = parser.parse_args()
    print("preparing the 5-minute sample (narration, pictures, avatars)...", flush=True)
    plan = prepare(args.out)
    seconds = plan.narration.seconds
    print(f"video: {seconds:.1f} s, {plan.narration.frames} frames, {len(plan.images)} pictures", flush=True)

    start = time.perf_counter()
    render_video(plan)
    ours = time.perf_counter() - start
    print(f"ytmaker render:  {ours:7.2f} s  rtf {ours / seconds:.3f}  "
          f"({int(probe(plan.out_path)['format']['size']) / 1e6:.1f} MB)", flush=True)

    baseline_file = args.out / "baseline.mp4"
    start = time.perf_counter()
    render_baseline(plan, baseline_file)
    base = time.perf_counter() - start
    print(f"ffmpeg baseline: {base:7.2f} s  rtf {base / seconds:.3f}  "
          f"({int(probe(baseline_file)['format']['size']) / 1e6:.1f} MB)  one command, veryfast, stillimage")
    print(f"ratio: {ours / base:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
