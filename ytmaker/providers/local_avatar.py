"""The offline presenter: a drawn face whose mouth follows the loudness of its narration."""

from __future__ import annotations

from pathlib import Path

from ytmaker.media.drawing.avatar import render_avatar_clip
from ytmaker.core.requests import AvatarRequest


class DrawnAvatarGenerator:
    DRAWS_TEXT = True  # the intro caption
    def generate(self, request: AvatarRequest, out_path: Path) -> Path:
        caption = request.text if request.which == "intro" else ""
        return render_avatar_clip(Path(request.audio_path), out_path, which=request.which, caption=caption[:60])
