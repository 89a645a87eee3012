"""Segment images, the talking avatar clip and the thumbnail, checked on real pixels and
real ffprobe output."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ytmaker.media.drawing.avatar import render_avatar_clip
from ytmaker.media.drawing.segment_image import draw_segment_image
from ytmaker.media.files import save_png
from ytmaker.media.drawing.thumbnail import make_thumbnail
from ytmaker.core.errors import MediaToolError
from ytmaker.media.ffmpeg import ffmpeg_bin, probe
from ytmaker.core.media_types import FPS, HEIGHT, WIDTH
from ytmaker.providers.base import ImageRequest

CJK_DESCRIPTION = "清晨的港口，漁船緩緩駛入，遠方山巒被薄霧籠罩，海鷗在天空盤旋。"


def _request(index: int = 1, description: str = CJK_DESCRIPTION, title: str = "台灣海港的一天") -> ImageRequest:
    return ImageRequest(
        project_id=7, segment_index=index, segment_count=4, description=description, title=title, language="zh-TW"
    )


def _pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image, dtype=np.int16)


def _white_pixels(image: Image.Image, top: int, bottom: int) -> int:
    """Near-white pixels between two rows: the card text is the only pure white there."""
    band = np.asarray(image)[top:bottom]
    return int(np.all(band >= 245, axis=2).sum())


# ------------------------------------------------------------------ segment images


def test_segment_image_is_rgb_full_hd() -> None:
    image = draw_segment_image(_request())
    assert image.size == (WIDTH, HEIGHT)
    assert image.mode == "RGB"


def test_segment_image_is_deterministic() -> None:
    assert draw_segment_image(_request()).tobytes() == draw_segment_image(_request()).tobytes()


def test_segments_look_different() -> None:
    first = _pixels(draw_segment_image(_request(1)))
    second = _pixels(draw_segment_image(_request(2)))
    assert np.abs(first - second).mean() > 12


def test_a_remake_draws_a_different_picture() -> None:
    # regenerate_image_flow raises the revision; without a new description the picture
    # must still change, while revision 0 stays the picture every earlier run drew.
    original = draw_segment_image(_request())
    assert draw_segment_image(_request().model_copy(update={"revision": 0})).tobytes() == original.tobytes()
    remade = draw_segment_image(_request().model_copy(update={"revision": 1}))
    assert np.abs(_pixels(original) - _pixels(remade)).mean() > 5
    again = draw_segment_image(_request().model_copy(update={"revision": 2}))
    assert np.abs(_pixels(remade) - _pixels(again)).mean() > 5


def test_cjk_description_is_drawn_on_the_card() -> None:
    with_text = draw_segment_image(_request(description=CJK_DESCRIPTION, title=""))
    empty = draw_segment_image(_request(description="", title=""))
    content = (140, HEIGHT - 220)  # below the badge row, above the subtitle band
    assert _white_pixels(with_text, *content) > 3000
    assert _white_pixels(empty, *content) < 300
    # Two different Chinese descriptions give different glyphs, not the same boxes of tofu.
    other = draw_segment_image(_request(description="夜晚的城市天際線，霓虹燈倒映在河面上。", title=""))
    assert _white_pixels(other, *content) > 1500
    assert _white_pixels(other, *content) != _white_pixels(with_text, *content)


def test_subtitle_band_stays_calm() -> None:
    long_text = "很長的描述" * 60
    for index in range(1, 5):
        arr = np.asarray(draw_segment_image(_request(index, description=long_text)), dtype=np.float32)
        bottom, middle = arr[HEIGHT - 220 :], arr[200 : HEIGHT - 220]
        assert bottom.mean() < middle.mean()
        assert _white_pixels(Image.fromarray(arr.astype(np.uint8)), HEIGHT - 220, HEIGHT) == 0


def test_save_png_writes_atomically(tmp_path: Path) -> None:
    image = draw_segment_image(_request(3))
    out = save_png(image, tmp_path / "deep" / "dir" / "segment_03.png")
    assert out == tmp_path / "deep" / "dir" / "segment_03.png"
    with Image.open(out) as saved:
        assert saved.format == "PNG"
        assert saved.convert("RGB").tobytes() == image.tobytes()
    assert [p.name for p in out.parent.iterdir()] == ["segment_03.png"]  # no temp file left
    assert out.stat().st_mode & 0o777 == 0o644


# ------------------------------------------------------------------ avatar clip

TONE_SECONDS, SILENCE_SECONDS = 1.0, 1.01  # 2.01 s: not a whole number of frames on purpose


@pytest.fixture(scope="module")
def tone_then_silence(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("audio") / "tone_silence.wav"
    subprocess.run(
        [
            ffmpeg_bin(), "-hide_banner", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", f"sine=frequency=220:duration={TONE_SECONDS}:sample_rate=44100",
            "-f", "lavfi", "-i", f"anullsrc=r=44100:cl=mono:d={SILENCE_SECONDS}",
            "-filter_complex", "[0][1]concat=n=2:v=0:a=1,volume=0.8", "-ac", "1", str(path),
        ],
        check=True,
    )
    return path


@pytest.fixture(scope="module")
def avatar_clip(tone_then_silence: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("avatar") / "clips" / "outro.mp4"
    assert render_avatar_clip(tone_then_silence, out, which="outro") == out
    return out


def _frame_at(video: Path, seconds: float) -> np.ndarray:
    raw = subprocess.run(
        [ffmpeg_bin(), "-hide_banner", "-loglevel", "error", "-ss", f"{seconds}", "-i", str(video),
         "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"],
        capture_output=True, check=True,
    ).stdout
    return np.frombuffer(raw, dtype=np.uint8).reshape(HEIGHT, WIDTH, 3).astype(np.int16)


def test_avatar_clip_streams(avatar_clip: Path, tone_then_silence: Path) -> None:
    audio_seconds = float(probe(tone_then_silence)["format"]["duration"])
    info = probe(avatar_clip)
    video = [s for s in info["streams"] if s["codec_type"] == "video"]
    audio = [s for s in info["streams"] if s["codec_type"] == "audio"]
    assert len(video) == 1 and len(audio) == 1
    v = video[0]
    assert (v["width"], v["height"]) == (WIDTH, HEIGHT)
    assert v["codec_name"] == "h264"
    assert v["pix_fmt"] == "yuv420p"
    assert v["r_frame_rate"] == f"{FPS}/1"
    assert int(v["nb_frames"]) == round(audio_seconds * FPS) == 60
    assert audio[0]["codec_name"] == "aac"
    assert abs(float(info["format"]["duration"]) - audio_seconds) <= 1 / FPS + 1e-3
    assert [p.name for p in avatar_clip.parent.iterdir()] == ["outro.mp4"]  # no temp file left


def test_avatar_mouth_follows_loudness(avatar_clip: Path) -> None:
    loud, silent = _frame_at(avatar_clip, 0.5), _frame_at(avatar_clip, 1.7)
    # Without a caption the presenter stands in the middle; the mouth is just below the face centre.
    mouth = (slice(440, 560), slice(900, 1020))
    elsewhere = (slice(100, 250), slice(100, 400))  # plain studio wall
    assert np.abs(loud[mouth] - silent[mouth]).mean() > 8
    assert np.abs(loud[elsewhere] - silent[elsewhere]).mean() < 2
    # An open mouth shows its dark inside.
    assert (loud[mouth].sum(axis=2) < 250).sum() > 300
    assert (silent[mouth].sum(axis=2) < 250).sum() < (loud[mouth].sum(axis=2) < 250).sum() / 3


def test_avatar_bad_audio_raises(tmp_path: Path) -> None:
    bogus = tmp_path / "not_audio.wav"
    bogus.write_text("this is not a wave file")
    with pytest.raises(MediaToolError) as info:
        render_avatar_clip(bogus, tmp_path / "clip.mp4", which="intro", caption="標題")
    assert "ffmpeg" in info.value.message
    assert not (tmp_path / "clip.mp4").exists()


# ------------------------------------------------------------------ thumbnail


@pytest.fixture()
def plain_image(tmp_path: Path) -> Path:
    path = tmp_path / "plain.png"
    Image.new("RGB", (WIDTH, HEIGHT), (70, 90, 110)).save(path)
    return path


@pytest.fixture()
def red_logo(tmp_path: Path) -> Path:
    path = tmp_path / "logo.png"
    logo = Image.new("RGBA", (300, 200), (0, 0, 0, 0))
    logo.paste((230, 30, 30, 255), (50, 0, 250, 200))
    logo.save(path)
    return path


def test_thumbnail_from_segment_image(tmp_path: Path) -> None:
    segment = save_png(draw_segment_image(_request()), tmp_path / "segment_01.png")
    out = make_thumbnail(segment, "台灣海港的一天：漁船、市場與人們的生活", tmp_path / "thumb" / "thumbnail.jpg")
    with Image.open(out) as thumb:
        assert thumb.format == "JPEG"
        assert thumb.size == (1280, 720)
    assert [p.name for p in out.parent.iterdir()] == ["thumbnail.jpg"]


def test_thumbnail_title_is_drawn(plain_image: Path, tmp_path: Path) -> None:
    titled = make_thumbnail(plain_image, "台灣海港的一天", tmp_path / "a.jpg")
    blank = make_thumbnail(plain_image, " ", tmp_path / "b.jpg")
    with Image.open(titled) as a, Image.open(blank) as b:
        lower_a = np.asarray(a.convert("RGB"), dtype=np.int16)[360:]
        lower_b = np.asarray(b.convert("RGB"), dtype=np.int16)[360:]
    bright = lambda arr: int((arr.min(axis=2) > 200).sum())  # noqa: E731 - white title letters
    assert bright(lower_a) > 5000
    assert bright(lower_b) == 0
    # The outline: dark pixels around the letters that the plain picture does not have.
    assert int((lower_a.max(axis=2) < 30).sum()) > 2000


def test_thumbnail_long_title_fits_three_lines(plain_image: Path, tmp_path: Path) -> None:
    out = make_thumbnail(plain_image, "一個非常非常長的標題" * 8, tmp_path / "long.jpg")
    with Image.open(out) as thumb:
        arr = np.asarray(thumb.convert("RGB"), dtype=np.int16)
    text_rows = np.where((arr.min(axis=2) > 200).any(axis=1))[0]
    assert text_rows.min() > 720 * 0.35  # the title block stays in the lower part
    assert text_rows.max() < 720 - 20


def test_thumbnail_logo_in_top_right(plain_image: Path, red_logo: Path, tmp_path: Path) -> None:
    with_logo = make_thumbnail(plain_image, "Harbour Life", tmp_path / "logo.jpg", logo_path=red_logo)
    without = make_thumbnail(plain_image, "Harbour Life", tmp_path / "nologo.jpg")

    def corner(path: Path) -> np.ndarray:
        with Image.open(path) as thumb:
            return np.asarray(thumb.convert("RGB"), dtype=np.int16)[40:160, 1280 - 200 : 1280 - 40]

    def red(arr: np.ndarray) -> int:
        return int(((arr[..., 0] > 180) & (arr[..., 1] < 80) & (arr[..., 2] < 80)).sum())

    assert red(corner(with_logo)) > 5000
    assert red(corner(without)) == 0
    with Image.open(with_logo) as thumb:
        arr = np.asarray(thumb.convert("RGB"), dtype=np.int16)
    rows = np.where(((arr[..., 0] > 180) & (arr[..., 1] < 80)).any(axis=1))[0]
    assert 130 <= rows.max() - rows.min() + 1 <= 150  # ~140 px tall, aspect kept
