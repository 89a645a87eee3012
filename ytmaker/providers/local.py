"""Registers the offline providers: every stage works with no key and no network."""

from __future__ import annotations

from pathlib import Path

from ytmaker.drawing.avatar import render_avatar_clip
from ytmaker.drawing.segment_image import draw_segment_image, save_png
from ytmaker.providers import register
from ytmaker.providers.base import AvatarRequest, ImageRequest
from ytmaker.providers.espeak import EspeakSynthesizer
from ytmaker.providers.local_publish import LocalPublisher
from ytmaker.providers.local_script import LocalScriptWriter


class PillowImageGenerator:
    def generate(self, request: ImageRequest, out_path: Path) -> Path:
        save_png(draw_segment_image(request), out_path)
        return out_path


class DrawnAvatarGenerator:
    def generate(self, request: AvatarRequest, out_path: Path) -> Path:
        caption = request.text if request.which == "intro" else ""
        return render_avatar_clip(Path(request.audio_path), out_path, which=request.which, caption=caption[:60])


register("script", "local", lambda settings: LocalScriptWriter())
register("tts", "local", lambda settings: EspeakSynthesizer())
register("image", "local", lambda settings: PillowImageGenerator())
register("avatar", "local", lambda settings: DrawnAvatarGenerator())
register("publish", "local", lambda settings: LocalPublisher(settings.published_dir))
