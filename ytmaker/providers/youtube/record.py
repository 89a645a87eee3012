"""The upload record: what is known about a project's YouTube upload, kept on disk.

One JSON file per project, at the path the publish request names (the pipeline puts it at
``{projects_dir}/{project_id}/output/youtube_upload.json``), written atomically (mode 0600)
at each step:

1. ``{video_sha256, video_size, session_uri, started_at}`` once the resumable session is
   created, *before the first byte of video goes out*;
2. ``video_id`` (and the video's status) as soon as the last chunk is acknowledged;
3. ``thumbnail_set`` with the thumbnail's hash after ``thumbnails.set``.

A record of another video (a different hash) is moved under ``previous`` (the last ten
kept): that video is a new upload. A session the server no longer knows is moved under
``lost_sessions``. A lock file next to the record serialises publishers on this host.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ytmaker.providers.errors import ProviderError
from ytmaker.providers.youtube.files import locked, write_atomic

PROVIDER = "YOUTUBE"
PREVIOUS_KEPT = 10


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class UploadRecord:
    """One project's upload record. ``data`` is the JSON object as it is on disk."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.data: dict[str, Any] = {}

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the lock file next to the record (a concurrent publish of the project waits)."""
        with locked(self.path.with_name(self.path.name + ".lock")):
            yield

    def load(self, video_sha256: str) -> None:
        """Read the record for the video with this hash; a record of another video is kept
        under ``previous`` and this one starts empty."""
        record = self._read()
        if record and record.get("video_sha256") != video_sha256:
            previous = record.pop("previous", [])
            record = {"previous": [*previous, record][-PREVIOUS_KEPT:]}
        self.data = record or {}

    def _read(self) -> dict[str, Any] | None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            # Refusing is safer than guessing: an unreadable record might hide an upload.
            raise ProviderError(
                PROVIDER, "INVALID_RESPONSE", f"the upload record {self.path} is unreadable ({exc}); fix or remove it"
            ) from None
        return data if isinstance(data, dict) else None

    def save(self, **fields: Any) -> None:
        """Set ``fields`` and write the record at once."""
        self.data.update(fields)
        self.data["updated_at"] = now()
        write_atomic(self.path, json.dumps(self.data, ensure_ascii=False, indent=2) + "\n", mode=0o600)

    # ------------------------------------------------------------------ what it says

    @property
    def video_id(self) -> str | None:
        return self.data.get("video_id")

    @property
    def session_uri(self) -> str | None:
        return self.data.get("session_uri")

    def thumbnail_is(self, thumbnail_sha256: str) -> bool:
        """Whether this very thumbnail is set on the uploaded video."""
        return bool(self.data.get("thumbnail_set")) and self.data.get("thumbnail_sha256") == thumbnail_sha256

    def calls_needed(self, thumbnail_sha256: str) -> list[str]:
        """The API calls still to make: a new insert (a recorded session is resumed at no
        cost) and/or ``thumbnails.set``."""
        calls = []
        if not self.video_id and not self.session_uri:
            calls.append("videos.insert")
        if not self.video_id or not self.thumbnail_is(thumbnail_sha256):
            calls.append("thumbnails.set")
        return calls

    # ------------------------------------------------------------------ steps

    def session_started(self, video_sha256: str, video_size: int, session_uri: str) -> None:
        self.save(
            video_sha256=video_sha256,
            video_size=video_size,
            session_uri=session_uri,
            started_at=now(),
            video_id=None,
            thumbnail_set=False,
        )

    def forget_session(self, why: str) -> None:
        lost = self.data.pop("session_uri", None)
        self.data.setdefault("lost_sessions", []).append(
            {"session_uri": lost, "started_at": self.data.get("started_at"), "why": why}
        )
        self.save()
