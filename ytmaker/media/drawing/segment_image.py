"""Segment illustrations drawn with Pillow and numpy: a seeded gradient, soft abstract
shapes, a frosted card with the image description and a small "segment i / n" badge."""

from __future__ import annotations

import colorsys
import hashlib
import math
import random

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from ytmaker.core.media_types import HEIGHT, WIDTH
from ytmaker.core.requests import ImageRequest
from ytmaker.media.text import load_font, wrap_text

# The background and shapes are drawn at half resolution and upscaled: they are soft
# anyway, and this keeps one image well under half a second.
_SCALE = 2
_W, _H = WIDTH // _SCALE, HEIGHT // _SCALE
SUBTITLE_BAND = 220  # bottom pixels kept dark and empty; subtitles are burned there later

RGB = tuple[int, int, int]


def _hsv(h: float, s: float, v: float) -> RGB:
    r, g, b = colorsys.hsv_to_rgb(h % 1.0, min(max(s, 0.0), 1.0), min(max(v, 0.0), 1.0))
    return int(r * 255), int(g * 255), int(b * 255)


def _palette(rng: random.Random) -> dict[str, RGB | list[RGB]]:
    """Dark, saturated background colours (white text stays readable) and lighter shape colours."""
    hue = rng.random()
    offsets = rng.choice([(0.0, 0.08, 0.16), (0.0, 0.5, 0.58), (0.0, 0.33, 0.66), (0.0, -0.1, 0.12)])
    hues = [hue + o for o in offsets]
    return {
        "top": _hsv(hues[0], rng.uniform(0.55, 0.85), rng.uniform(0.30, 0.45)),
        "bottom": _hsv(hues[1], rng.uniform(0.60, 0.90), rng.uniform(0.12, 0.22)),
        "glow": _hsv(hues[2], rng.uniform(0.35, 0.65), rng.uniform(0.75, 0.95)),
        "shapes": [_hsv(h + rng.uniform(-0.03, 0.03), rng.uniform(0.35, 0.75), rng.uniform(0.65, 1.0)) for h in hues],
        "accent": _hsv(hues[2] + 0.02, 0.75, 1.0),
    }


def _background(rng: random.Random, pal: dict) -> np.ndarray:
    """Linear gradient along a seeded angle plus a radial glow, as float32 HxWx3 (half size)."""
    angle = rng.uniform(0, math.pi)
    ys, xs = np.mgrid[0:_H, 0:_W].astype(np.float32)
    t = (xs / _W - 0.5) * math.cos(angle) * 0.6 + (ys / _H) * 0.9
    t = np.clip((t - t.min()) / (t.max() - t.min() + 1e-6), 0, 1)[..., None]
    top = np.array(pal["top"], np.float32)
    bottom = np.array(pal["bottom"], np.float32)
    img = top * (1 - t) + bottom * t
    gx, gy = rng.uniform(0.15, 0.85) * _W, rng.uniform(0.1, 0.45) * _H
    radius = rng.uniform(0.35, 0.6) * _W
    glow = np.exp(-(((xs - gx) ** 2 + (ys - gy) ** 2) / (radius**2)))[..., None]
    img += (np.array(pal["glow"], np.float32) - img) * glow * rng.uniform(0.35, 0.55)
    return img


def _with_alpha(color: RGB, alpha: int) -> tuple[int, int, int, int]:
    return (*color, alpha)


def _shapes_circles(draw: ImageDraw.ImageDraw, rng: random.Random, colors: list[RGB]) -> None:
    for _ in range(rng.randint(7, 12)):
        r = rng.uniform(0.04, 0.20) * _W
        x, y = rng.uniform(0, _W), rng.uniform(-0.1 * _H, 0.75 * _H)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=_with_alpha(rng.choice(colors), rng.randint(40, 110)))


def _shapes_mountains(draw: ImageDraw.ImageDraw, rng: random.Random, colors: list[RGB]) -> None:
    sx, sy, sr = rng.uniform(0.2, 0.8) * _W, rng.uniform(0.15, 0.35) * _H, rng.uniform(0.06, 0.1) * _W
    draw.ellipse((sx - sr, sy - sr, sx + sr, sy + sr), fill=_with_alpha(colors[2], 200))
    layers = 4
    for i in range(layers):
        base = _H * (0.45 + 0.11 * i)
        amp = _H * (0.16 - 0.025 * i)
        waves = [(rng.uniform(1, 3.5), rng.uniform(0, 6.3), rng.uniform(0.3, 1.0)) for _ in range(3)]
        pts = []
        for x in range(0, _W + 16, 16):
            u = x / _W * math.pi * 2
            y = base - amp * sum(a * abs(math.sin(f * u + p)) for f, p, a in waves) / 1.5
            pts.append((x, y))
        pts += [(_W, _H), (0, _H)]
        # Nearer ridges are darker: atmospheric perspective, and a calm bottom band.
        shade = 1.0 - 0.2 * i
        color = tuple(int(c * shade * 0.55) for c in colors[i % 2])
        draw.polygon(pts, fill=(*color, 150 + 25 * i))


def _shapes_waves(draw: ImageDraw.ImageDraw, rng: random.Random, colors: list[RGB]) -> None:
    for i in range(rng.randint(4, 6)):
        base = _H * rng.uniform(0.35, 0.75)
        amp = _H * rng.uniform(0.03, 0.09)
        freq, phase = rng.uniform(0.8, 2.2), rng.uniform(0, 6.3)
        thickness = _H * rng.uniform(0.06, 0.16)
        top = [(x, base + amp * math.sin(freq * x / _W * 6.283 + phase)) for x in range(0, _W + 12, 12)]
        bottom = [(x, y + thickness + amp * 0.5 * math.sin(x / _W * 9 + i)) for x, y in reversed(top)]
        draw.polygon(top + bottom, fill=_with_alpha(colors[i % len(colors)], rng.randint(50, 100)))


def _shapes_bars(draw: ImageDraw.ImageDraw, rng: random.Random, colors: list[RGB]) -> None:
    count = rng.randint(9, 16)
    gap = _W / count
    floor = _H * 0.80
    heights = [rng.uniform(0.12, 0.55) * _H for _ in range(count)]
    for i, h in enumerate(heights):
        x0 = i * gap + gap * 0.18
        draw.rounded_rectangle(
            (x0, floor - h, x0 + gap * 0.64, floor + 20), radius=int(gap * 0.12),
            fill=_with_alpha(colors[i % len(colors)], rng.randint(60, 120)),
        )
    # A trend line over the bars reads as "data" without needing real numbers.
    pts = [(i * gap + gap / 2, floor - h - _H * 0.05) for i, h in enumerate(heights)]
    draw.line(pts, fill=_with_alpha(colors[2], 210), width=4, joint="curve")
    for x, y in pts:
        draw.ellipse((x - 7, y - 7, x + 7, y + 7), fill=_with_alpha((255, 255, 255), 220))


def _shapes_rings(draw: ImageDraw.ImageDraw, rng: random.Random, colors: list[RGB]) -> None:
    cx, cy = rng.uniform(0.25, 0.75) * _W, rng.uniform(0.25, 0.5) * _H
    for i in range(rng.randint(5, 8)):
        r = _H * (0.08 + 0.09 * i)
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), outline=_with_alpha(colors[i % 3], 120 - 10 * i), width=6)
    step = rng.choice([40, 48, 56])
    dot = _with_alpha(colors[1], 70)
    for y in range(step // 2, int(_H * 0.78), step):
        for x in range(step // 2, _W, step):
            draw.ellipse((x - 2.5, y - 2.5, x + 2.5, y + 2.5), fill=dot)


_COMPOSITIONS = [_shapes_circles, _shapes_mountains, _shapes_waves, _shapes_bars, _shapes_rings]


def _bokeh(draw: ImageDraw.ImageDraw, rng: random.Random, colors: list[RGB]) -> None:
    """Large faint far-away discs, blurred heavily afterwards for depth."""
    for _ in range(rng.randint(3, 6)):
        r = rng.uniform(0.08, 0.25) * _W
        x, y = rng.uniform(0, _W), rng.uniform(0, 0.7 * _H)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=_with_alpha(rng.choice(colors), rng.randint(25, 60)))


def _calm_bottom(arr: np.ndarray) -> np.ndarray:
    """Vignette, and darken towards the bottom so burned-in subtitles stay readable."""
    ys = np.arange(_H, dtype=np.float32)
    start = (HEIGHT - SUBTITLE_BAND - 80) / _SCALE
    fall = np.clip((ys - start) / (_H - start), 0, 1) ** 1.2
    rows = 1.0 - 0.6 * fall
    xs = np.linspace(-1, 1, _W, dtype=np.float32)
    cols = 1.0 - 0.18 * xs**2
    return arr * rows[:, None, None] * cols[None, :, None]


def clip_lines(lines: list[str], font: ImageFont.FreeTypeFont, max_width: int, max_lines: int) -> list[str]:
    """``lines`` cut to ``max_lines``, the last one shortened until it ends in "…" within
    ``max_width`` (as they are when there are no more than ``max_lines``)."""
    if len(lines) <= max_lines:
        return lines
    lines = lines[:max_lines]
    last = lines[-1]
    while last and font.getlength(last + "…") > max_width:
        last = last[:-1]
    lines[-1] = last + "…"
    return lines


def _fit_description(text: str, max_width: int, max_lines: int) -> tuple[ImageFont.FreeTypeFont, list[str]]:
    """The largest font size (64 down to 36) whose wrapped text fits; truncated if even 36 does not."""
    for size in range(64, 35, -4):
        font = load_font(size, bold=True)
        lines = wrap_text(text, font, max_width)
        if len(lines) <= max_lines:
            return font, lines
    return font, clip_lines(lines, font, max_width, max_lines)


def _badge_text(request: ImageRequest) -> str:
    if request.language.lower().startswith("zh"):
        return f"段落 {request.segment_index} / {request.segment_count}"
    return f"Segment {request.segment_index} / {request.segment_count}"


def draw_segment_image(request: ImageRequest) -> Image.Image:
    """An RGB 1920x1080 illustration for one segment; the same request gives the same pixels,
    and palette and composition are seeded from the description, index and revision (so a
    remake draws a different picture)."""
    digest = hashlib.sha256(request.seed_text().encode()).digest()
    rng = random.Random(int.from_bytes(digest[:8], "big"))
    pal = _palette(rng)
    colors: list[RGB] = pal["shapes"]  # type: ignore[assignment]

    # Half-size background: gradient, blurred far shapes, then the composition.
    small = Image.fromarray(np.clip(_background(rng, pal), 0, 255).astype(np.uint8))
    _bokeh(ImageDraw.Draw(small, "RGBA"), rng, colors)
    small = small.filter(ImageFilter.GaussianBlur(14))
    compose = _COMPOSITIONS[(digest[8] + request.segment_index) % len(_COMPOSITIONS)]
    compose(ImageDraw.Draw(small, "RGBA"), rng, colors)
    small = small.filter(ImageFilter.GaussianBlur(1.2))  # soft edges, like anti-aliasing
    arr = _calm_bottom(np.asarray(small, dtype=np.float32))
    small = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    image = small.resize((WIDTH, HEIGHT), Image.Resampling.BICUBIC)

    # Frosted card: the blurred background under it, a dark tint, an accent edge.
    font, lines = _fit_description(request.description.strip(), 1240, 5)
    ascent, descent = font.getmetrics()
    line_h = int((ascent + descent) * 1.18)
    header_font = load_font(30, bold=False)
    header = request.title.strip()
    pad_x, pad_y = 64, 52
    text_w = max([int(font.getlength(line)) for line in lines] + [int(header_font.getlength(header)) if header else 0, 480])
    card_w = min(text_w + 2 * pad_x, WIDTH - 240)
    card_h = pad_y * 2 + line_h * len(lines) + (62 if header else 0)
    free_h = HEIGHT - SUBTITLE_BAND - 150  # between the badge row and the subtitle band
    card_y = 150 + max(0, (free_h - card_h) // 2) + rng.randint(-30, 30)
    card_y = max(140, min(card_y, HEIGHT - SUBTITLE_BAND - 30 - card_h))
    card_x = (WIDTH - card_w) // 2 if rng.random() < 0.5 else 120
    box = (card_x, card_y, card_x + card_w, card_y + card_h)

    frost = small.crop(tuple(v // _SCALE for v in box)).filter(ImageFilter.GaussianBlur(10))
    frost = frost.resize((card_w, card_h), Image.Resampling.BILINEAR)
    mask = Image.new("L", (card_w, card_h), 0)
    ImageDraw.Draw(mask).rounded_rectangle((0, 0, card_w - 1, card_h - 1), radius=36, fill=255)
    image.paste(frost, box[:2], mask)
    draw = ImageDraw.Draw(image, "RGBA")
    draw.rounded_rectangle(box, radius=36, fill=(8, 12, 28, 135), outline=(255, 255, 255, 60), width=2)
    draw.rounded_rectangle((card_x, card_y + 36, card_x + 10, card_y + card_h - 36), radius=5, fill=pal["accent"])

    y = card_y + pad_y
    if header:
        draw.text((card_x + pad_x, y), header, font=header_font, fill=(*pal["accent"], 255))
        y += 62
    for line in lines:
        draw.text((card_x + pad_x + 2, y + 3), line, font=font, fill=(0, 0, 0, 110))  # soft drop shadow
        draw.text((card_x + pad_x, y), line, font=font, fill=(255, 255, 255, 255))
        y += line_h

    # Badge and progress dots, top-left.
    badge_font = load_font(30, bold=True)
    label = _badge_text(request)
    bw = int(badge_font.getlength(label)) + 56
    draw.rounded_rectangle((80, 60, 80 + bw, 112), radius=26, fill=(*pal["accent"], 230))
    draw.text((80 + 28, 86), label, font=badge_font, fill=(15, 18, 30, 255), anchor="lm")
    count = max(1, min(request.segment_count, 30))
    for i in range(count):
        cx = 80 + bw + 34 + i * 26
        filled = i + 1 == request.segment_index
        r = 8 if filled else 6
        draw.ellipse((cx - r, 86 - r, cx + r, 86 + r), fill=(255, 255, 255, 235 if filled else 90))

    # Fine deterministic noise hides gradient banding after video compression.
    noise_rng = np.random.default_rng(int.from_bytes(digest[8:16], "big"))
    out = np.asarray(image, dtype=np.int16)
    out = out + noise_rng.integers(-2, 3, size=(HEIGHT, WIDTH, 1), dtype=np.int16)
    return Image.fromarray(np.clip(out, 0, 255).astype(np.uint8))
