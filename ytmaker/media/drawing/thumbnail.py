"""The video thumbnail: the first segment image, cover-cropped to 1280x720, with the title
in big outlined letters on a darkened band and an optional logo top-right."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageOps

from ytmaker.media.drawing.segment_image import clip_lines
from ytmaker.media.files import atomic_output
from ytmaker.media.text import load_font, wrap_text

THUMB_W, THUMB_H = 1280, 720
MARGIN = 64
MAX_LINES = 3
LOGO_HEIGHT = 140


def _fit_title(title: str, max_width: int, max_height: int) -> tuple[int, list[str]]:
    """Largest font size (124 down to 40) whose wrapped title fits in 3 lines and the height."""
    size = 124
    while True:
        font = load_font(size, bold=True)
        lines = wrap_text(title, font, max_width)
        ascent, descent = font.getmetrics()
        if (len(lines) <= MAX_LINES and (ascent + descent) * 1.08 * len(lines) <= max_height) or size <= 40:
            break
        size -= 6
    # Only absurdly long titles have more lines: cut the last one with an ellipsis.
    return size, clip_lines(lines, font, max_width, MAX_LINES)


def _calm_band(image: Image.Image, top: int) -> Image.Image:
    """Blur (the segment image has its own card text that would compete with the title) and
    fade to ~80% black from ``top`` down, so the title reads on any picture."""
    soft = image.filter(ImageFilter.GaussianBlur(4))
    heavy = np.asarray(image.filter(ImageFilter.GaussianBlur(16)), dtype=np.float32)
    ys = np.arange(THUMB_H, dtype=np.float32)
    t = np.clip((ys - (top - 140)) / 160.0, 0.0, 1.0)[:, None, None]
    arr = np.asarray(soft, dtype=np.float32) * (1 - t) + heavy * t
    arr *= 1.0 - 0.8 * t
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def make_thumbnail(image_path: Path, title: str, out_path: Path, logo_path: Path | None = None) -> Path:
    """Write a 1280x720 JPEG thumbnail (quality 90) atomically and return its path."""
    out_path = Path(out_path)
    with Image.open(image_path) as src:
        image = ImageOps.fit(src.convert("RGB"), (THUMB_W, THUMB_H), Image.Resampling.LANCZOS)

    size, lines = _fit_title(title.strip(), THUMB_W - 2 * MARGIN, int(THUMB_H * 0.55))
    font = load_font(size, bold=True)
    ascent, descent = font.getmetrics()
    line_h = int((ascent + descent) * 1.08)
    block_h = line_h * len(lines)
    text_top = THUMB_H - MARGIN - block_h
    image = _calm_band(image, text_top)

    draw = ImageDraw.Draw(image)
    stroke = max(4, size // 12)
    # Accent bar to the left of the title, in a colour sampled from the picture's brightest area.
    small = np.asarray(image.resize((32, 18)), dtype=np.float32).reshape(-1, 3)
    accent = tuple(int(c) for c in small[np.argmax(small.sum(axis=1) + small.std(axis=1) * 3)])
    accent = tuple(min(255, int(c * 1.2 + 40)) for c in accent)
    if lines:
        draw.rounded_rectangle((MARGIN - 36, text_top + 8, MARGIN - 22, text_top + block_h - 8), radius=7, fill=accent)
    y = text_top
    for i, line in enumerate(lines):
        # First line in warm yellow, the rest white: the classic, legible thumbnail look.
        fill = (255, 222, 70) if i == 0 and len(lines) > 1 else (255, 255, 255)
        draw.text((MARGIN + 6, y + 6), line, font=font, fill=(0, 0, 0), stroke_width=stroke, stroke_fill=(0, 0, 0))
        draw.text((MARGIN, y), line, font=font, fill=fill, stroke_width=stroke, stroke_fill=(10, 10, 18))
        y += line_h

    if logo_path is not None:
        with Image.open(logo_path) as raw:
            logo = raw.convert("RGBA")
        # ~140 px tall keeping the aspect ratio; very wide logos are capped at a third of the width.
        width, height = round(logo.width * LOGO_HEIGHT / logo.height), LOGO_HEIGHT
        if width > THUMB_W // 3:
            width, height = THUMB_W // 3, round(logo.height * (THUMB_W // 3) / logo.width)
        width, height = max(1, width), max(1, height)
        logo = logo.resize((width, height), Image.Resampling.LANCZOS)
        image.paste(logo, (THUMB_W - 32 - width, 32), logo)

    with atomic_output(out_path, ".jpg") as tmp:
        image.save(tmp, format="JPEG", quality=90, optimize=True, progressive=True)
    return out_path
