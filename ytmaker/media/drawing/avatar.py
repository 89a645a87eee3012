"""A drawn talking presenter: the mouth follows the narration's loudness, the eyes blink,
and the intro waves hello (the outro waves goodbye). Encoded with one ffmpeg process."""

from __future__ import annotations

import math
import random
import subprocess
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from ytmaker.media.drawing.segment_image import SUBTITLE_BAND
from ytmaker.media.files import atomic_output
from ytmaker.core.errors import MediaToolError
from ytmaker.media.ffmpeg import ffmpeg_bin
from ytmaker.core.media_types import FPS, HEIGHT, WIDTH
from ytmaker.media.text import is_cjk, load_font, wrap_text

SAMPLE_RATE = 22050
SAMPLES_PER_FRAME = SAMPLE_RATE // FPS  # 735
MOUTH_LEVELS = 8
SS = 2  # supersampling factor: Pillow's shapes are not anti-aliased, so draw big and shrink

RGB = tuple[int, int, int]
SKIN: RGB = (244, 205, 178)
SKIN_SHADOW: RGB = (222, 170, 140)
HAIR: RGB = (58, 40, 34)
HAIR_LIGHT: RGB = (96, 68, 56)
SUIT: RGB = (38, 52, 92)
SUIT_DARK: RGB = (27, 37, 68)
SHIRT: RGB = (240, 242, 248)
TIE: RGB = (226, 86, 74)
LIP: RGB = (176, 84, 84)
MOUTH_IN: RGB = (96, 28, 38)
TONGUE: RGB = (222, 110, 112)
IRIS: RGB = (82, 52, 36)

_THEMES: dict[str, dict[str, RGB]] = {
    "intro": {"top": (44, 36, 92), "bottom": (14, 12, 34), "spot": (255, 176, 112), "accent": (255, 170, 72)},
    "outro": {"top": (18, 64, 84), "bottom": (6, 20, 32), "spot": (120, 220, 235), "accent": (84, 214, 230)},
    "other": {"top": (40, 48, 70), "bottom": (12, 14, 24), "spot": (200, 205, 230), "accent": (150, 170, 255)},
}


def _mix(a: RGB, b: RGB, t: float) -> RGB:
    return tuple(int(round(x + (y - x) * t)) for x, y in zip(a, b))  # type: ignore[return-value]


class _Pen:
    """Draws in 1x frame coordinates onto a supersampled canvas whose origin is (ox, oy)."""

    def __init__(self, image: Image.Image, ox: float = 0, oy: float = 0):
        self.draw = ImageDraw.Draw(image)
        self.ox, self.oy = ox, oy

    def p(self, x: float, y: float) -> tuple[float, float]:
        return (x - self.ox) * SS, (y - self.oy) * SS

    def box(self, x0: float, y0: float, x1: float, y1: float) -> tuple[float, float, float, float]:
        return (*self.p(x0, y0), *self.p(x1, y1))

    def ellipse(self, cx: float, cy: float, rx: float, ry: float, fill: RGB, outline: RGB | None = None, width: int = 0) -> None:
        self.draw.ellipse(self.box(cx - rx, cy - ry, cx + rx, cy + ry), fill=fill, outline=outline, width=width * SS)

    def polygon(self, pts: list[tuple[float, float]], fill: RGB) -> None:
        self.draw.polygon([self.p(x, y) for x, y in pts], fill=fill)

    def rrect(self, x0: float, y0: float, x1: float, y1: float, r: float, fill: RGB) -> None:
        self.draw.rounded_rectangle(self.box(x0, y0, x1, y1), radius=r * SS, fill=fill)

    def capsule(self, a: tuple[float, float], b: tuple[float, float], width: float, fill: RGB) -> None:
        """A thick line with round ends (limbs, fingers, eyebrows)."""
        self.draw.line([self.p(*a), self.p(*b)], fill=fill, width=int(width * SS))
        for x, y in (a, b):
            self.ellipse(x, y, width / 2, width / 2, fill)

    def arc(self, cx: float, cy: float, rx: float, ry: float, start: float, end: float, fill: RGB, width: float) -> None:
        self.draw.arc(self.box(cx - rx, cy - ry, cx + rx, cy + ry), start, end, fill=fill, width=int(width * SS))


# ---------------------------------------------------------------- audio -> mouth


def _decode_audio(audio_path: Path) -> np.ndarray:
    """Mono 16-bit PCM at 22050 Hz through a pipe, as float32 in -1..1."""
    cmd = [ffmpeg_bin(), "-hide_banner", "-nostdin", "-loglevel", "error", "-i", str(audio_path),
           "-vn", "-ac", "1", "-ar", str(SAMPLE_RATE), "-f", "s16le", "-acodec", "pcm_s16le", "pipe:1"]
    result = subprocess.run(cmd, capture_output=True, check=False)
    if result.returncode != 0:
        raise MediaToolError(
            f"ffmpeg failed while decoding avatar audio {audio_path}: "
            f"{result.stderr.decode(errors='replace').strip()[-800:]}",
            details={"step": "decode avatar audio", "returncode": result.returncode},
        )
    return np.frombuffer(result.stdout, dtype="<i2").astype(np.float32) / 32768.0


def _mouth_levels(samples: np.ndarray, frames: int) -> np.ndarray:
    """Per-frame mouth openness quantised to 0..MOUTH_LEVELS-1, from smoothed RMS loudness."""
    padded = np.zeros(frames * SAMPLES_PER_FRAME, dtype=np.float32)
    padded[: min(len(samples), len(padded))] = samples[: len(padded)]
    rms = np.sqrt(np.mean(padded.reshape(frames, SAMPLES_PER_FRAME) ** 2, axis=1))
    # Loudness relative to the loud end of this clip, on a dB scale: speech is quieter
    # or louder per voice, but a closed mouth should still mean a pause.
    ref = float(np.percentile(rms, 95)) if frames else 0.0
    if ref < 1e-4:
        return np.zeros(frames, dtype=np.int64)
    db = 20 * np.log10(np.maximum(rms, 1e-7) / ref)
    target = np.clip((db + 30.0) / 26.0, 0.0, 1.0)
    target = np.convolve(target, [0.25, 0.5, 0.25], mode="same")
    # Opens fast, closes a little slower: reads as speech rather than flicker.
    out = np.empty(frames, dtype=np.float64)
    level = 0.0
    for i, t in enumerate(target):
        level += (t - level) * (0.75 if t > level else 0.5)
        out[i] = level
    return np.clip(np.round(out * (MOUTH_LEVELS - 1)), 0, MOUTH_LEVELS - 1).astype(np.int64)


def _eye_states(frames: int, seed: int) -> list[int]:
    """0 open, 1 half, 2 closed: a four-frame blink every 2.5-5 s."""
    rng = random.Random(seed)
    states = [0] * frames
    t = int(rng.uniform(1.2, 2.5) * FPS)
    while t < frames:
        for k, s in enumerate((1, 2, 2, 1)):
            if t + k < frames:
                states[t + k] = s
        t += int(rng.uniform(2.5, 5.0) * FPS)
    return states


# ---------------------------------------------------------------- drawing


def _background(theme: dict[str, RGB], cx: float) -> Image.Image:
    """Studio wall: gradient, a spotlight behind the presenter, soft light columns, a desk."""
    w, h = WIDTH // 2, HEIGHT // 2
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    t = (ys / h)[..., None]
    img = np.array(theme["top"], np.float32) * (1 - t) + np.array(theme["bottom"], np.float32) * t
    spot = np.exp(-(((xs - cx / 2) / (w * 0.32)) ** 2 + ((ys - h * 0.36) / (h * 0.55)) ** 2))[..., None]
    img += (np.array(theme["spot"], np.float32) - img) * spot * 0.42
    small = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(small, "RGBA")
    for i, x in enumerate((60, 170, 790, 900)):
        draw.rounded_rectangle((x, 40, x + 34, 360), radius=17, fill=(*theme["spot"], 70 if i % 2 else 45))
    rng = random.Random(7)
    for _ in range(14):
        r, x, y = rng.uniform(8, 30), rng.uniform(0, w), rng.uniform(20, h * 0.6)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=(*theme["accent"], rng.randint(25, 60)))
    small = small.filter(ImageFilter.GaussianBlur(6))
    image = small.resize((WIDTH, HEIGHT), Image.Resampling.BICUBIC)
    # Fixed-seed dither against banding in the spotlight; the wall is static, so it costs
    # bits only in key frames.
    noise = np.random.default_rng(11).integers(-2, 3, size=(HEIGHT, WIDTH, 1), dtype=np.int16)
    image = Image.fromarray(np.clip(np.asarray(image, dtype=np.int16) + noise, 0, 255).astype(np.uint8))
    # The desk sits in the subtitle band: dark and plain, with one highlight edge.
    draw = ImageDraw.Draw(image, "RGBA")
    desk_y = HEIGHT - SUBTITLE_BAND + 30
    draw.rectangle((0, desk_y, WIDTH, HEIGHT), fill=(10, 12, 22, 255))
    draw.rectangle((0, desk_y, WIDTH, desk_y + 5), fill=(*theme["accent"], 140))
    draw.rectangle((0, desk_y + 5, WIDTH, desk_y + 40), fill=(255, 255, 255, 10))
    return image.convert("RGBA")


def _draw_figure(pen: _Pen, cx: float, hy: float) -> None:
    """Everything of the presenter that never changes (not eyes, mouth or raised arm)."""
    # Back hair, ears, neck, torso.
    pen.rrect(cx - 162, hy - 172, cx + 162, hy + 110, 150, HAIR)
    pen.rrect(cx - 52, hy + 100, cx + 52, hy + 240, 30, SKIN_SHADOW)
    pen.rrect(cx - 350, hy + 250, cx + 350, HEIGHT + 300, 175, SUIT)
    pen.polygon([(cx - 92, hy + 222), (cx + 92, hy + 222), (cx, hy + 470)], SHIRT)
    pen.polygon([(cx - 20, hy + 238), (cx + 20, hy + 238), (cx + 14, hy + 270), (cx - 14, hy + 270)], TIE)
    pen.polygon([(cx - 14, hy + 268), (cx + 14, hy + 268), (cx + 30, hy + 420), (cx, hy + 455), (cx - 30, hy + 420)], TIE)
    for side in (-1, 1):
        pen.polygon([(cx + side * 20, hy + 240), (cx + side * 70, hy + 215), (cx + side * 62, hy + 292)], SHIRT)
        pen.polygon(
            [(cx + side * 96, hy + 222), (cx + side * 170, hy + 330), (cx + side * 122, hy + 352),
             (cx + side * 160, hy + 392), (cx + side * 4, hy + 500)],
            SUIT_DARK,
        )
        pen.ellipse(cx + side * 140, hy + 28, 24, 38, SKIN)
        pen.ellipse(cx + side * 142, hy + 30, 11, 20, SKIN_SHADOW)
    # Head, then hair on top of it.
    pen.ellipse(cx, hy + 6, 138, 165, SKIN_SHADOW)  # jaw shadow peeking out below
    pen.ellipse(cx, hy, 140, 160, SKIN)
    pen.draw.chord(pen.box(cx - 152, hy - 182, cx + 152, hy + 120), 180, 360, fill=HAIR)
    # An off-centre forehead arch reads as a side parting rather than a helmet.
    pen.ellipse(cx + 18, hy + 40, 116, 128, SKIN)
    pen.polygon([(cx - 120, hy - 40), (cx - 60, hy - 118), (cx + 40, hy - 140), (cx - 30, hy - 88), (cx - 98, hy + 10)], HAIR)
    pen.rrect(cx - 158, hy - 90, cx - 116, hy + 62, 20, HAIR)
    pen.rrect(cx + 118, hy - 90, cx + 158, hy + 58, 20, HAIR)
    pen.arc(cx - 10, hy - 60, 110, 95, 205, 262, HAIR_LIGHT, 9)
    # Brows, nose, cheeks.
    for side in (-1, 1):
        pen.arc(cx + side * 58, hy - 8, 34, 20, 205, 335, HAIR, 10)
        pen.ellipse(cx + side * 82, hy + 72, 30, 16, _mix(SKIN, (240, 120, 120), 0.28))
    pen.arc(cx, hy + 50, 14, 14, 30, 150, SKIN_SHADOW, 5)


def _draw_eyes(pen: _Pen, cx: float, hy: float, state: int) -> None:
    for side in (-1, 1):
        ex, ey = cx + side * 56, hy + 22
        if state == 2:
            pen.arc(ex, ey - 8, 28, 16, 15, 165, HAIR, 6)
            continue
        pen.ellipse(ex, ey, 29, 21, (255, 255, 255))
        pen.ellipse(ex + 2, ey + 2, 16, 16, IRIS)
        pen.ellipse(ex + 2, ey + 2, 8, 8, (20, 14, 12))
        pen.ellipse(ex + 8, ey - 4, 5, 5, (255, 255, 255))
        if state == 1:  # eyelid halfway down
            pen.draw.chord(pen.box(ex - 33, ey - 26, ex + 33, ey + 26), 180, 360, fill=SKIN)
            pen.capsule((ex - 29, ey), (ex + 29, ey), 5, HAIR)
        else:
            pen.arc(ex, ey, 29, 21, 195, 345, HAIR, 5)


def _draw_mouth(canvas: Image.Image, pen: _Pen, cx: float, my: float, level: int) -> None:
    if level == 0:
        pen.arc(cx, my - 14, 38, 22, 25, 155, LIP, 6)
        return
    o = level / (MOUTH_LEVELS - 1)
    w, h = 64 + 16 * o, 10 + 44 * o
    x0, y0 = cx - w / 2, my - h * 0.4
    # Inside of the mouth on its own tile, masked to the lip shape, so teeth and tongue
    # never spill outside it.
    tw, th = int(w * SS), int(h * SS)
    tile = Image.new("RGB", (tw, th), MOUTH_IN)
    tdraw = ImageDraw.Draw(tile)
    tdraw.rectangle((0, 0, tw, max(2, int(th * 0.22))), fill=(250, 250, 250))
    tdraw.ellipse((tw * 0.2, th * 0.55, tw * 0.8, th * 1.3), fill=TONGUE)
    mask = Image.new("L", (tw, th), 0)
    ImageDraw.Draw(mask).ellipse((0, 0, tw - 1, th - 1), fill=255)
    px, py = pen.p(x0, y0)
    canvas.paste(tile, (int(px), int(py)), mask)
    pen.draw.ellipse(pen.box(x0, y0, x0 + w, y0 + h), outline=LIP, width=5 * SS)


def _arm_points(cx: float, hy: float, lift: float, angle: float) -> tuple[tuple[float, float], ...]:
    """Presenter's left arm (viewer's right): shoulder, elbow, wrist, and the forearm direction
    (radians, image coordinates) which turns from hanging down (lift 0) to up (lift 1)."""
    shoulder = (cx + 285, hy + 300)
    elbow = (cx + 385 + 30 * lift, hy + 620 - 290 * lift)
    theta = math.radians(90 - 180 * lift + angle)
    wrist = (elbow[0] + 220 * math.cos(theta), elbow[1] + 220 * math.sin(theta))
    return shoulder, elbow, wrist, (math.cos(theta), math.sin(theta))


def _draw_arm(pen: _Pen, cx: float, hy: float, lift: float, angle: float) -> None:
    shoulder, elbow, (wx, wy), (ux, uy) = _arm_points(cx, hy, lift, angle)
    vx, vy = -uy, ux  # across the forearm
    pen.capsule(shoulder, elbow, 92, SUIT)
    pen.capsule(elbow, (wx, wy), 78, SUIT)
    pen.capsule((wx - ux * 8, wy - uy * 8), (wx + ux * 6, wy + uy * 6), 80, SHIRT)  # cuff
    hx, hy2 = wx + ux * 52, wy + uy * 52  # palm centre
    pen.capsule((wx + ux * 20, wy + uy * 20), (hx + ux * 8, hy2 + uy * 8), 70, SKIN)
    for k, spread in enumerate((-1.5, -0.5, 0.5, 1.5)):
        base = (hx + ux * 18 + vx * spread * 15, hy2 + uy * 18 + vy * spread * 15)
        length = (34, 42, 44, 36)[k]
        tip = (base[0] + (ux + vx * spread * 0.12) * length, base[1] + (uy + vy * spread * 0.12) * length)
        pen.capsule(base, tip, 15, SKIN)
    thumb_base = (hx - vx * 30, hy2 - vy * 30)
    pen.capsule(thumb_base, (thumb_base[0] - vx * 26 + ux * 22, thumb_base[1] - vy * 26 + uy * 22), 17, SKIN)


def _draw_caption(image: Image.Image, caption: str, theme: dict[str, RGB], right_limit: int) -> None:
    """Lower third just above the subtitle band."""
    font_size = 52
    max_w = right_limit - 110 - 100
    while True:
        font = load_font(font_size, bold=True)
        lines = wrap_text(caption, font, max_w)
        if len(lines) <= 2 or font_size <= 32:
            lines = lines[:2]
            break
        font_size -= 4
    label = "本集主題" if is_cjk(caption) else "TODAY'S TOPIC"
    label_font = load_font(26, bold=True)
    ascent, descent = font.getmetrics()
    line_h = int((ascent + descent) * 1.12)
    text_w = max(int(font.getlength(line)) for line in lines)
    x0 = 110
    bottom = HEIGHT - SUBTITLE_BAND - 20
    y0 = bottom - 40 - line_h * len(lines)
    draw = ImageDraw.Draw(image, "RGBA")
    lw = int(label_font.getlength(label)) + 36
    draw.rounded_rectangle((x0, y0 - 46, x0 + lw, y0 - 4), radius=8, fill=(*theme["accent"], 255))
    draw.text((x0 + 18, y0 - 25), label, font=label_font, fill=(20, 20, 30, 255), anchor="lm")
    draw.rounded_rectangle((x0, y0, x0 + text_w + 80, bottom), radius=12, fill=(250, 250, 252, 235))
    draw.rectangle((x0, y0 + 12, x0 + 10, bottom - 12), fill=(*theme["accent"], 255))
    y = y0 + 20
    for line in lines:
        draw.text((x0 + 40, y), line, font=font, fill=(22, 26, 40, 255))
        y += line_h


def _rgb_to_yuv420(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """BT.601 limited range, chroma averaged over 2x2 blocks: what ffmpeg's default rgb24 ->
    yuv420p conversion does, done here once per distinct frame instead of once per frame."""
    a = rgb.astype(np.float32)
    r, g, b = a[..., 0], a[..., 1], a[..., 2]
    y = 16.0 + 0.256788 * r + 0.504129 * g + 0.097906 * b
    u = 128.0 - 0.148223 * r - 0.290993 * g + 0.439216 * b
    v = 128.0 + 0.439216 * r - 0.367788 * g - 0.071427 * b

    def sub(c: np.ndarray) -> np.ndarray:
        return (c[0::2, 0::2] + c[1::2, 0::2] + c[0::2, 1::2] + c[1::2, 1::2]) * 0.25

    return tuple(np.clip(np.rint(c), 0, 255).astype(np.uint8) for c in (y, sub(u), sub(v)))  # type: ignore[return-value]


def _even_box(x0: float, y0: float, x1: float, y1: float) -> tuple[int, int, int, int]:
    """Clamp to the frame and align to even pixels so 2x2 chroma blocks are never split."""
    ex0, ey0 = max(0, int(x0)) // 2 * 2, max(0, int(y0)) // 2 * 2
    ex1, ey1 = min(WIDTH, -(-int(x1) // 2) * 2), min(HEIGHT, -(-int(y1) // 2) * 2)
    return ex0, ey0, ex1, ey1


class _Presenter:
    """The base frame is drawn and converted once; each (mouth, eyes) face is drawn once and
    patched into a copy of the base planes, so frames cost a memory copy, not a redraw."""

    def __init__(self, which: str, caption: str):
        self.theme = _THEMES.get(which, _THEMES["other"])
        self.cx = 1260.0 if caption else WIDTH / 2
        self.hy = 380.0
        self.face_box = _even_box(self.cx - 110, self.hy - 20, self.cx + 110, self.hy + 170)
        background = _background(self.theme, self.cx)
        if caption:
            _draw_caption(background, caption, self.theme, int(self.cx - 360))
        figure = Image.new("RGBA", (WIDTH * SS, HEIGHT * SS), (0, 0, 0, 0))
        _draw_figure(_Pen(figure), self.cx, self.hy)
        self.figure_hi = figure
        base = background.copy()
        base.alpha_composite(figure.reduce(SS))  # same filter as the patches: no seams
        # The desk is drawn over the body so the presenter sits behind it.
        self.desk_y = HEIGHT - SUBTITLE_BAND + 30
        base.paste(background.crop((0, self.desk_y, WIDTH, HEIGHT)), (0, self.desk_y))
        self.base = base.convert("RGB")
        # Face patches carry the whole head again, so they go over the background alone:
        # over the base, anti-aliased edges would be blended twice.
        self.face_backdrop = background.crop(self.face_box)
        self.planes = _rgb_to_yuv420(np.asarray(self.base))
        self.arm_box = _even_box(self.cx + 150, self.hy - 40, self.cx + 790, self.desk_y)
        self._faces: dict[tuple[int, int], tuple[np.ndarray, ...]] = {}
        self._bytes: dict[tuple[int, int], bytes] = {}

    def face_image(self, mouth: int, eyes: int) -> Image.Image:
        """The face box with these eyes and this mouth, as RGB."""
        x0, y0, x1, y1 = self.face_box
        patch = self.figure_hi.crop((x0 * SS, y0 * SS, x1 * SS, y1 * SS))
        pen = _Pen(patch, x0, y0)
        _draw_eyes(pen, self.cx, self.hy, eyes)
        _draw_mouth(patch, pen, self.cx, self.hy + 112, mouth)
        region = self.face_backdrop.copy()
        region.alpha_composite(patch.reduce(SS))
        return region.convert("RGB")

    def _face_planes(self, mouth: int, eyes: int) -> tuple[np.ndarray, ...]:
        key = (mouth, eyes)
        if key not in self._faces:
            self._faces[key] = _rgb_to_yuv420(np.asarray(self.face_image(mouth, eyes)))
        return self._faces[key]

    def _compose(self, patches: list[tuple[tuple[int, int, int, int], tuple[np.ndarray, ...]]]) -> bytes:
        planes = [p.copy() for p in self.planes]
        for (x0, y0, x1, y1), region in patches:
            for k, (plane, part) in enumerate(zip(planes, region)):
                f = 1 if k == 0 else 2  # chroma planes are half size
                plane[y0 // f : y1 // f, x0 // f : x1 // f] = part
        return b"".join(p.tobytes() for p in planes)

    def frame_bytes(self, mouth: int, eyes: int) -> bytes:
        key = (mouth, eyes)
        if key not in self._bytes:
            self._bytes[key] = self._compose([(self.face_box, self._face_planes(mouth, eyes))])
        return self._bytes[key]

    def arm_image(self, lift: float, angle: float) -> tuple[tuple[int, int, int, int], Image.Image]:
        """The raised arm drawn over the base: the box it covers and that box as RGB."""
        x0, y0, x1, y1 = self.arm_box
        layer = Image.new("RGBA", ((x1 - x0) * SS, (y1 - y0) * SS), (0, 0, 0, 0))
        _draw_arm(_Pen(layer, x0, y0), self.cx, self.hy, lift, angle)
        # Only the part the arm covers changes; the smaller the box, the cheaper the frame.
        bbox = layer.getchannel("A").getbbox() or (0, 0, SS * 2, SS * 2)
        box = _even_box(x0 + bbox[0] // SS, y0 + bbox[1] // SS, x0 + -(-bbox[2] // SS), y0 + -(-bbox[3] // SS))
        layer = layer.crop(((box[0] - x0) * SS, (box[1] - y0) * SS, (box[2] - x0) * SS, (box[3] - y0) * SS))
        region = self.base.crop(box).convert("RGBA")
        region.alpha_composite(layer.reduce(SS))
        return box, region.convert("RGB")

    def arm_frame_bytes(self, mouth: int, eyes: int, lift: float, angle: float) -> bytes:
        """A waving frame: the arm is drawn on the fly (only ~2 s of a clip waves)."""
        box, arm = self.arm_image(lift, angle)
        return self._compose([(self.face_box, self._face_planes(mouth, eyes)), (box, _rgb_to_yuv420(np.asarray(arm)))])

    def preview(self, mouth: int, eyes: int, pose: tuple[float, float] | None = None) -> Image.Image:
        """One full RGB frame, for looking at the presenter without encoding a clip."""
        frame = self.base.copy()
        frame.paste(self.face_image(mouth, eyes), self.face_box[:2])
        if pose is not None:
            box, arm = self.arm_image(*pose)
            frame.paste(arm, box[:2])
        return frame


def _wave_pose(frame: int, frames: int, which: str) -> tuple[float, float] | None:
    """(lift 0..1, forearm angle in degrees) while waving, else None."""
    length = min(int(2.0 * FPS), frames)
    if length < 12:
        return None
    start = 0 if which != "outro" else frames - length
    k = frame - start
    if not 0 <= k < length:
        return None
    ramp = 8
    lift = min(1.0, k / ramp, (length - 1 - k) / ramp)
    if lift <= 0:
        return None
    lift = 0.5 - 0.5 * math.cos(math.pi * lift)  # ease in and out
    angle = 18 * math.sin(2 * math.pi * 2.2 * k / FPS) * lift
    return lift, angle


# ---------------------------------------------------------------- encoding


def render_avatar_clip(audio_path: Path, out_path: Path, *, which: str, caption: str = "") -> Path:
    """Write a 1920x1080 30 fps H.264 + AAC clip of the presenter speaking ``audio_path``;
    it has exactly round(audio seconds * 30) frames. ``which`` is "intro" or "outro"."""
    audio_path, out_path = Path(audio_path), Path(out_path)
    samples = _decode_audio(audio_path)
    frames = int(round(len(samples) / SAMPLE_RATE * FPS))
    if frames < 1:
        raise MediaToolError(f"Avatar audio {audio_path} is empty; cannot make a clip from it.",
                             details={"step": "decode avatar audio"})
    mouths = _mouth_levels(samples, frames)
    eyes = _eye_states(frames, seed=frames * 31 + len(which))
    presenter = _Presenter(which, caption.strip())

    cmd = [
        ffmpeg_bin(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
        "-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", f"{WIDTH}x{HEIGHT}", "-r", str(FPS), "-i", "pipe:0",
        "-i", str(audio_path),
        "-map", "0:v:0", "-map", "1:a:0",
        "-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-pix_fmt", "yuv420p", "-r", str(FPS),
        "-c:a", "aac", "-b:a", "160k",
        "-movflags", "+faststart", "-f", "mp4",
    ]
    # stderr goes to a file: a full pipe could block ffmpeg while we are blocked writing frames.
    with atomic_output(out_path, ".mp4") as tmp, tempfile.TemporaryFile() as log:
        proc = subprocess.Popen([*cmd, str(tmp)], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=log)
        assert proc.stdin is not None
        try:
            for i in range(frames):
                pose = _wave_pose(i, frames, which)
                if pose is None:
                    data = presenter.frame_bytes(int(mouths[i]), eyes[i])
                else:
                    data = presenter.arm_frame_bytes(int(mouths[i]), eyes[i], *pose)
                proc.stdin.write(data)
            proc.stdin.close()
        except BrokenPipeError:
            pass  # ffmpeg died; its log says why
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        code = proc.wait()
        if code != 0:
            log.seek(0)
            tail = log.read().decode(errors="replace").strip()[-800:]
            raise MediaToolError(
                f"ffmpeg failed while encoding the {which} avatar clip: {tail}",
                details={"step": "encode avatar", "returncode": code},
            )
    return out_path
