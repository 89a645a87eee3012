"""The offline picture provider: a Pillow drawing per segment."""

from __future__ import annotations

from pathlib import Path

from ytmaker.media.drawing.segment_image import draw_segment_image
from ytmaker.media.files import save_png
from ytmaker.core.requests import ImageRequest


class PillowImageGenerator:
    DRAWS_TEXT = True  # the segment text is drawn on the picture: the font is in the key
    def generate(self, request: ImageRequest, out_path: Path) -> Path:
        save_png(draw_segment_image(request), out_path)
        return out_path
