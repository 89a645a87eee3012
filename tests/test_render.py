"""The renderer on its own (no Prefect): real espeak-ng narration, real ffmpeg; and the
H.264 writer it uses for repeated frames."""

from __future__ import annotations

import random
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from tests.media_checks import assert_valid_stream, assert_youtube_ready, frame_after_seek, frame_at, mean_abs_diff
from ytmaker.media import h264
from ytmaker.media.ffmpeg import ffmpeg_bin
from ytmaker.media.narration import mix_narration, narrate_part
from ytmaker.providers.espeak import EspeakSynthesizer
from ytmaker.media.render import RenderPlan, RenderStats, composed_frames, render_video
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
    stats = RenderStats()
    video = render_video(plan, progress=lambda f, m: messages.append(f), stats=stats)
    return plan, video, messages, stats


def test_render_is_youtube_ready_and_follows_the_narration(rendered):
    plan, video, _, _ = rendered
    assert video.frames == plan.narration.frames
    assert_youtube_ready(plan.out_path, plan.narration.seconds)
    assert not (plan.work_dir / "pieces.h264").exists()  # intermediate files are cleaned up
    assert not list(plan.work_dir.iterdir())


def test_every_frame_shows_its_own_picture_and_subtitle(rendered):
    """Frames rebuilt from reused pieces must look like the shot they belong to: check the
    first, a repeated and the last frame of every subtitle page against the composed still."""
    plan, _, _, _ = rendered
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
    plan, _, _, _ = rendered
    pages = paginate(plan.narration.parts[1].sentences, SubtitleStyle())
    assert len(pages) >= 2
    start = plan.narration.parts[0].frames
    first = frame_at(plan.out_path, start + pages[0].start_frame + 2)
    second = frame_at(plan.out_path, start + pages[1].start_frame + 2)
    assert mean_abs_diff(first[850:1040], second[850:1040]) > 3.0
    assert mean_abs_diff(first[100:700, :1500], second[100:700, :1500]) < 4.0


def test_render_reports_rising_progress(rendered):
    _, _, messages, _ = rendered
    assert messages == sorted(messages) and messages[-1] == 1.0
    assert messages[0] < 0.5 and len(messages) >= 5


def test_long_sentence_is_split_into_pages_that_share_its_time():
    from ytmaker.core.media_types import SpokenSentence

    sentence = SpokenSentence(text="這是一個很長的句子，" * 12, start_frame=10, frames=300)
    pages = paginate([sentence], SubtitleStyle())
    assert len(pages) >= 2 and all(len(p.lines) <= 2 for p in pages)
    assert pages[0].start_frame == 10 and sum(p.frames for p in pages) == 300
    assert all(b.start_frame == a.start_frame + a.frames for a, b in zip(pages, pages[1:]))


# ---------------------------------------------------------------- the stream is valid H.264/MP4

def _frame_md5s(video: Path) -> list[str]:
    out = subprocess.run([ffmpeg_bin(), "-v", "error", "-i", str(video), "-map", "0:v:0", "-f", "framemd5", "-"],
                         capture_output=True, text=True, check=True).stdout
    return [line.rsplit(",", 1)[1].strip() for line in out.splitlines() if line and not line.startswith("#")]


def _assert_seeks_land_on_the_right_frame(plan: RenderPlan) -> None:
    """Seeking to every whole second shows the frame composed for that second."""
    checked = 0
    for number, composed in composed_frames(plan, every=30):
        shown = frame_after_seek(plan.out_path, number / 30)
        ref = np.frombuffer(composed, np.uint8)
        assert mean_abs_diff(shown, ref) < 2.5, (number, mean_abs_diff(shown, ref))
        checked += 1
    assert checked == len(range(0, plan.narration.frames, 30))


def test_stills_render_is_a_valid_stream(rendered):
    plan, _, _, stats = rendered
    assert_valid_stream(plan.out_path, plan.narration.frames)
    # Most frames are repeat pictures: a few bytes each, every one identical to the frame before.
    repeats = stats.still_frames - stats.x264_still_frames
    assert repeats > plan.narration.frames // 2 and stats.repeat_bytes < 32 * repeats
    assert len(set(_frame_md5s(plan.out_path))) <= stats.x264_still_frames


def test_stills_render_seeks_to_the_right_picture(rendered):
    plan, _, _, _ = rendered
    _assert_seeks_land_on_the_right_frame(plan)


def _clip(path: Path, size: str, seconds: float) -> Path:
    """A moving test pattern, untagged colours (like ffmpeg's default rgb -> yuv420p)."""
    subprocess.run([ffmpeg_bin(), "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc2=s={size}:r=30:d={seconds}",
                    "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(path)], check=True)
    return path


@pytest.fixture(scope="module")
def rendered_with_avatar(tmp_path_factory):
    """An intro with an avatar clip (1080p, shorter than its narration: its last frame is
    held), one segment, an outro whose small clip is scaled up."""
    root = tmp_path_factory.mktemp("render-avatar")
    synth = EspeakSynthesizer()
    texts = {"intro": "Welcome. Today: bees.", "segment_01": "Honeybees dance to tell their sisters where flowers are.",
             "outro": "Thanks for watching."}
    parts = [narrate_part(synth, part=name, text=text, language="en", out_wav=root / f"{name}.wav",
                          min_seconds=5 if name.startswith("segment") else 0)
             for name, text in texts.items()]
    narration = mix_narration(parts, root / "full_audio.mp3")
    logo = root / "logo.png"
    Image.new("RGBA", (120, 80), (255, 0, 0, 255)).save(logo)
    plan = RenderPlan(narration=narration, images={1: _picture(root / "a.png", (20, 60, 140))},
                      intro_clip=_clip(root / "intro.mp4", "1920x1080", 1.0),
                      outro_clip=_clip(root / "outro.mp4", "640x360", 5.0),
                      out_path=root / "out" / "final.mp4", work_dir=root / "work", logo_path=logo)
    stats = RenderStats()
    messages = []
    video = render_video(plan, progress=lambda f, m: messages.append(f), stats=stats)
    return plan, video, messages, stats


def test_avatar_render_is_a_valid_stream(rendered_with_avatar):
    plan, video, messages, stats = rendered_with_avatar
    assert video.frames == plan.narration.frames
    assert_youtube_ready(plan.out_path, plan.narration.seconds)
    assert_valid_stream(plan.out_path, plan.narration.frames)
    assert stats.motion_frames == plan.narration.parts[0].frames + plan.narration.parts[-1].frames
    # Stills and avatar clips were coded with the same SPS/PPS.
    assert stats.parameter_sets_match
    assert messages == sorted(messages) and messages[-1] == 1.0
    assert not list(plan.work_dir.iterdir())


def test_avatar_render_seeks_to_the_right_frame(rendered_with_avatar):
    plan, _, _, _ = rendered_with_avatar
    _assert_seeks_land_on_the_right_frame(plan)


def test_avatar_frames_carry_subtitles_and_logo(rendered_with_avatar):
    """The intro clip (1 s) is shorter than its narration: its last frame is held, under the
    intro's subtitles and the logo."""
    plan, _, _, _ = rendered_with_avatar
    intro = plan.narration.parts[0]
    assert paginate(intro.sentences, SubtitleStyle())[-1].lines
    clip_last = np.frombuffer(subprocess.run(
        [ffmpeg_bin(), "-v", "error", "-i", str(plan.intro_clip), "-vf", "select=eq(n\\,29)", "-frames:v", "1",
         "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"], capture_output=True, check=True).stdout, np.uint8).reshape(1080, 1920, 3)
    for n in (intro.frames - 20, intro.frames - 1):
        frame = frame_at(plan.out_path, n)
        assert mean_abs_diff(frame[100:700, :1500], clip_last[100:700, :1500]) < 6.0  # the held clip frame
        assert mean_abs_diff(frame[850:1040], clip_last[850:1040]) > 8.0  # with a subtitle over it
        assert frame[100, 1800, 0] > 200 and frame[100, 1800, 1] < 60  # and the logo


# ---------------------------------------------------------------- h264.py

def test_exp_golomb_codes_round_trip():
    w = h264.BitWriter()
    values = [0, 1, 2, 3, 7, 8, 254, 8160, 2**20]
    signed = [0, 1, -1, 2, -2, 26, -26]
    for v in values:
        w.ue(v)
    for v in signed:
        w.se(v)
    w.u(5, 0b10110)
    w.trailing_bits()
    r = h264.BitReader(w.to_bytes())
    assert [r.ue() for _ in values] == values
    assert [r.se() for _ in signed] == signed
    assert r.u(5) == 0b10110 and r.u(1) == 1
    # Table 9-2: codeNum 0 -> 1, 1 -> 010, 3 -> 00100
    w = h264.BitWriter()
    for v in (0, 1, 3):
        w.ue(v)
    assert w.bit_length == 1 + 3 + 5
    w.trailing_bits()
    assert w.to_bytes() == bytes([0b1010_0010, 0b0_1000000])


def test_emulation_prevention_round_trip():
    assert h264.escape(b"\x00\x00\x00\x00\x01\x00\x00\x04") == b"\x00\x00\x03\x00\x00\x03\x01\x00\x00\x04"
    assert h264.escape(b"\x00\x00\x03") == b"\x00\x00\x03\x03"
    rng = random.Random(7)
    for _ in range(200):
        data = bytes(rng.choice([0, 0, 0, 1, 2, 3, 4, 255]) for _ in range(rng.randrange(1, 40)))
        escaped = h264.escape(data)
        assert b"\x00\x00\x00" not in escaped and b"\x00\x00\x01" not in escaped and b"\x00\x00\x02" not in escaped
        assert h264.unescape(escaped) == data


def _x264_stream(path: Path, size: str, frames: int, params: str, extra: list[str] | None = None,
                 preset: str = "veryfast") -> bytes:
    subprocess.run([ffmpeg_bin(), "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc2=s={size}:r=30",
                    "-frames:v", str(frames), "-c:v", "libx264", "-preset", preset, "-bf", "0", "-g", "100000",
                    "-force_key_frames", "expr:1", *(extra or []), "-x264-params", params, "-f", "h264", str(path)],
                   check=True)
    return path.read_bytes()


def _parameter_sets(stream: bytes) -> tuple[h264.SPS, h264.PPS]:
    info = h264.picture_info(h264.access_units(stream)[0])
    assert info.idr and info.sps and info.pps
    return h264.parse_sps(info.sps), h264.parse_pps(info.pps)


def test_parameter_sets_of_a_1080p_x264_stream(tmp_path):
    from ytmaker.media.render import X264_PARAMS

    sps, pps = _parameter_sets(_x264_stream(tmp_path / "a.h264", "1920x1080", 1, X264_PARAMS))
    assert (sps.width_in_mbs, sps.height_in_map_units, sps.frame_mbs) == (120, 68, 8160)
    assert sps.pic_order_cnt_type == 2 and sps.max_num_ref_frames >= 1 and sps.frame_mbs_only
    assert not pps.entropy_coding_mode and not pps.weighted_pred and pps.num_slice_groups == 1
    h264.check_repeatable(sps, pps)


def test_streams_that_cannot_take_repeat_pictures_are_refused(tmp_path):
    cabac = _parameter_sets(_x264_stream(tmp_path / "cabac.h264", "64x64", 1, "aud=1"))
    with pytest.raises(h264.H264Error, match="CABAC"):
        h264.check_repeatable(*cabac)
    intra_only = _parameter_sets(_x264_stream(tmp_path / "intra.h264", "64x64", 1, "aud=1:cabac=0:keyint=1"))
    with pytest.raises(h264.H264Error, match="max_num_ref_frames"):
        h264.check_repeatable(*intra_only)


def test_skip_slice_fields():
    sps, pps = _parameter_sets_stub()
    rbsp = h264.skip_slice_rbsp(sps, pps, frame_num=21)
    r = h264.BitReader(rbsp)
    assert (r.ue(), r.ue(), r.ue()) == (0, h264.SLICE_P, pps.pps_id)
    assert r.u(sps.log2_max_frame_num) == 21 % 16
    assert (r.u(1), r.ue()) == (1, 0)  # one active reference
    assert (r.u(1), r.u(1), r.se()) == (0, 0, 0)  # no list modification, sliding window, qp delta 0
    assert r.ue() == 1  # deblocking off
    assert r.ue() == sps.frame_mbs  # mb_skip_run: the whole picture
    assert r.u(1) == 1  # rbsp_stop_one_bit, then zeros to the end of the last byte
    rest = len(rbsp) * 8 - r.pos
    assert 0 <= rest < 8 and r.u(rest) == 0


def _parameter_sets_stub() -> tuple[h264.SPS, h264.PPS]:
    sps = h264.SPS(0, 100, 1, False, 4, 2, 1, 120, 68, True)
    pps = h264.PPS(0, 0, False, False, 1, 1, False, True, False)
    return sps, pps


@pytest.mark.parametrize("preset", ["ultrafast", "veryfast", "placebo"])
def test_repeat_pictures_decode_to_copies_of_the_picture_before(tmp_path, preset):
    """Two IDRs from x264, each followed by repeats written here (past MaxFrameNum, so
    frame_num wraps): the decoder takes it without an error, and every repeat is
    bit-identical to its IDR. Presets differ in references, deblocking, frame_num bits."""
    from ytmaker.media.render import X264_PARAMS

    stream = _x264_stream(tmp_path / "b.h264", "320x240", 2, X264_PARAMS, preset=preset)
    units = h264.access_units(stream)
    assert len(units) == 2
    sps, pps = _parameter_sets(stream)
    h264.check_repeatable(sps, pps)
    out = bytearray()
    counts = (2 * sps.max_frame_num + 3, 5)
    for unit, repeats in zip(units, counts):
        info = h264.picture_info(unit, sps)
        assert info.idr and info.frame_num == 0
        out += unit
        for n in range(1, repeats + 1):
            out += h264.skip_picture(sps, pps, info.frame_num + n)
    path = tmp_path / "repeated.h264"
    path.write_bytes(bytes(out))
    decoded = subprocess.run([ffmpeg_bin(), "-v", "error", "-xerror", "-f", "h264", "-i", str(path), "-f", "framemd5", "-"],
                             capture_output=True, text=True)
    assert decoded.returncode == 0 and not decoded.stderr.strip(), decoded.stderr
    md5s = [line.rsplit(",", 1)[1].strip() for line in decoded.stdout.splitlines() if line and not line.startswith("#")]
    assert len(md5s) == sum(counts) + 2
    first, second = md5s[: counts[0] + 1], md5s[counts[0] + 1 :]
    assert len(set(first)) == 1 and len(set(second)) == 1 and first[0] != second[0]
