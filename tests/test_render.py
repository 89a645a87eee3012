"""The renderer on its own (no Prefect): real espeak-ng narration, real ffmpeg."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from tests.media_checks import assert_youtube_ready, frame_at, mean_abs_diff
from ytmaker.media.narration import mix_narration, narrate_part
from ytmaker.providers.espeak import EspeakSynthesizer
from ytmaker.media.render import RenderPlan, render_video
from ytmaker.media.subtitles import paginate
from ytmaker.core.media_types import SubtitleStyle


def _picture(path: Path, color: tuple[int, int, int]) -> Path:
    image = Image.new("RGB", (1920, 1080), color)
    ImageDraw.Draw(image).rectangle((200, 150, 900, 650), fill=(255 - color[0], 200, 40))
    image.save(path)
    return path


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    root = tmp_path_factory.mktemp("render")
    synth = EspeakSynthesizer()
    texts = [
        "台北一零一曾經是世界最高的大樓。它的外型像竹子，一節一節向上生長，象徵節節高升，這是一個很長的句子。",
        "Honeybees dance to tell their sisters where flowers are. The angle points the way.",
    ]
    parts = [
        narrate_part(synth, part=f"segment_{i:02d}", text=t, language="zh-TW" if i == 1 else "en",
                     out_wav=root / f"segment_{i:02d}.wav", min_seconds=5)
        for i, t in enumerate(texts, 1)
    ]
    narration = mix_narration(parts, root / "full_audio.mp3")
    images = {1: _picture(root / "a.png", (20, 60, 140)), 2: _picture(root / "b.png", (120, 30, 60))}
    logo = root / "logo.png"
    Image.new("RGBA", (200, 200), (255, 0, 0, 255)).save(logo)
    plan = RenderPlan(narration=narration, images=images, intro_clip=None, outro_clip=None,
                      out_path=root / "out" / "final.mp4", work_dir=root / "work", logo_path=logo)
    messages = []
    video = render_video(plan, progress=lambda f, m: messages.append(f))
    return plan, video, messages


def test_render_is_youtube_ready_and_follows_the_narration(rendered):
    plan, video, _ = rendered
    assert video.frames == plan.narration.frames
    assert_youtube_ready(plan.out_path, plan.narration.seconds)
    assert not (plan.work_dir / "pieces.h264").exists()  # intermediate files are cleaned up


def test_every_frame_shows_its_own_picture_and_subtitle(rendered):
    """Frames rebuilt from reused pieces must look like the shot they belong to: check the
    first, a repeated and the last frame of every subtitle page against the composed still."""
    plan, _, _ = rendered
    style = SubtitleStyle()
    offset = 0
    checked = 0
    for part in plan.narration.parts:
        index = int(part.part.split("_")[1])
        base = np.asarray(Image.open(plan.images[index]).convert("RGB"))
        for page in paginate(part.sentences, style):
            for n in {page.start_frame, page.start_frame + min(page.frames - 1, 45), page.start_frame + page.frames - 1}:
                frame = frame_at(plan.out_path, offset + n)
                # The picture (above the subtitle band, away from the logo) matches...
                assert mean_abs_diff(frame[100:700, :1500], base[100:700, :1500]) < 4.0
                # ...the subtitle band carries text (differs from the bare picture)...
                assert mean_abs_diff(frame[850:1040], base[850:1040]) > 8.0
                # ...and the logo is there, top right.
                assert frame[100, 1800, 0] > 200 and frame[100, 1800, 1] < 60
                checked += 1
        offset += part.frames
    assert checked >= 6


def test_subtitles_change_with_the_sentences(rendered):
    plan, _, _ = rendered
    pages = paginate(plan.narration.parts[1].sentences, SubtitleStyle())
    assert len(pages) >= 2
    start = plan.narration.parts[0].frames
    first = frame_at(plan.out_path, start + pages[0].start_frame + 2)
    second = frame_at(plan.out_path, start + pages[1].start_frame + 2)
    assert mean_abs_diff(first[850:1040], second[850:1040]) > 3.0
    assert mean_abs_diff(first[100:700, :1500], second[100:700, :1500]) < 4.0


def test_render_reports_rising_progress(rendered):
    _, _, messages = rendered
    assert messages == sorted(messages) and messages[-1] == 1.0


def test_long_sentence_is_split_into_pages_that_share_its_time():
    from ytmaker.core.media_types import SpokenSentence

    sentence = SpokenSentence(text="這是一個很長的句子，" * 12, start_frame=10, frames=300)
    pages = paginate([sentence], SubtitleStyle())
    assert len(pages) >= 2 and all(len(p.lines) <= 2 for p in pages)
    assert pages[0].start_frame == 10 and sum(p.frames for p in pages) == 300
    assert all(b.start_frame == a.start_frame + a.frames for a, b in zip(pages, pages[1:]))
