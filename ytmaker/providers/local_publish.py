"""The offline publish target: a folder per video under ``data/published/``.

Returns the same shape as the YouTube uploader. Publishing the same video of the same
project again returns the same id and copies nothing twice.
"""

from __future__ import annotations

import json
import os
import shutil
from datetime import datetime, timezone
from pathlib import Path

from ytmaker.core.media_types import Publication
from ytmaker.core.requests import PublishRequest


def _copy_atomic(src: Path, dst: Path) -> None:
    staging = dst.with_name(dst.name + ".part")
    shutil.copyfile(src, staging)
    os.replace(staging, dst)


class LocalPublisher:
    def __init__(self, root: Path):
        self.root = Path(root)

    def publish(self, request: PublishRequest) -> Publication:
        video_id = f"local-{request.project_id}-{request.video_sha256[:12]}"
        target = self.root / video_id
        target.mkdir(parents=True, exist_ok=True)
        video = target / "video.mp4"
        if not video.exists():
            _copy_atomic(Path(request.video_path), video)
        _copy_atomic(Path(request.thumbnail_path), target / "thumbnail.jpg")
        status = request.privacy
        if request.publish_at and datetime.fromisoformat(request.publish_at) > datetime.now(timezone.utc):
            status = "scheduled"
        metadata = {
            "video_id": video_id,
            "project_id": request.project_id,
            "snippet": {
                "title": request.metadata.title,
                "description": request.metadata.description,
                "tags": request.metadata.tags,
                "defaultLanguage": request.language,
            },
            "status": {
                "privacyStatus": request.privacy,
                "publishAt": request.publish_at,
                "containsSyntheticMedia": True,
                "selfDeclaredMadeForKids": False,
            },
            "video_sha256": request.video_sha256,
        }
        (target / "metadata.json").write_text(json.dumps(metadata, ensure_ascii=False, indent=2), encoding="utf-8")
        return Publication(video_id=video_id, video_url=video.resolve().as_uri(), video_status=status)
