"""Burned-in subtitles: pages of wrapped lines timed inside each spoken sentence."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from PIL import Image, ImageDraw

from ytmaker.core.media_types import HEIGHT, WIDTH, SpokenSentence, SubtitleStyle
from ytmaker.media.text import load_font, spoken_length, wrap_text

MAX_TEXT_WIDTH = WIDTH - 320


@dataclass(frozen=True)
class SubtitlePage:
    lines: tuple[str, ...]
    start_frame: int  # within its part
    frames: int


def paginate(sentences: list[SpokenSentence], style: SubtitleStyle) -> list[SubtitlePage]:
    """Wrap each sentence to fit; a sentence needing more than ``max_lines`` lines is shown as
    several pages, each on screen for a share of the sentence's time by its length."""
    font = load_font(style.font_size)
    pages: list[SubtitlePage] = []
    for sentence in sentences:
        lines = wrap_text(sentence.text, font, MAX_TEXT_WIDTH)
        chunks = [tuple(lines[i : i + style.max_lines]) for i in range(0, len(lines), style.max_lines)] or [()]
        weights = [max(1.0, sum(spoken_length(line) for line in chunk)) for chunk in chunks]
        start, used = sentence.start_frame, 0
        for k, (chunk, weight) in enumerate(zip(chunks, weights)):
            if k == len(chunks) - 1:
                frames = sentence.frames - used
            else:
                frames = max(1, round(sentence.frames * weight / sum(weights)))
                frames = min(frames, sentence.frames - used - (len(chunks) - 1 - k))
            pages.append(SubtitlePage(lines=chunk, start_frame=start + used, frames=frames))
            used += frames
    return pages


@lru_cache(maxsize=256)
def subtitle_overlay(lines: tuple[str, ...], style: SubtitleStyle) -> Image.Image:
    """A full-frame RGBA layer with the page's lines centred near the bottom."""
    layer = Image.new("RGBA", (WIDTH, HEIGHT), (0, 0, 0, 0))
    if not lines:
        return layer
    font = load_font(style.font_size)
    draw = ImageDraw.Draw(layer)
    line_height = int(style.font_size * 1.35)
    block_height = line_height * len(lines)
    top = HEIGHT - style.bottom_margin - block_height
    if style.box_opacity > 0:
        widest = max(font.getlength(line) for line in lines)
        pad = style.font_size // 2
        draw.rounded_rectangle(
            (WIDTH / 2 - widest / 2 - pad, top - pad // 2, WIDTH / 2 + widest / 2 + pad, top + block_height + pad // 2),
            radius=pad // 2,
            fill=(0, 0, 0, int(255 * style.box_opacity)),
        )
    for i, line in enumerate(lines):
        draw.text(
            (WIDTH / 2, top + i * line_height + line_height / 2),
            line,
            font=font,
            fill=style.color,
            anchor="mm",
            stroke_width=style.outline_width,
            stroke_fill=style.outline_color,
        )
    return layer
