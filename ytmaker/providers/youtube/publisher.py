"""YouTube publisher: a resumable ``videos.insert`` upload, then ``thumbnails.set``.

Never a duplicate video: the upload record (:mod:`~ytmaker.providers.youtube.record`, at the
path the publish request names) is read first. Same ``video_sha256`` and a ``video_id``: no
upload, only the thumbnail if not yet set (or changed). Same hash and a ``session_uri`` but
no ``video_id``: the session is resumed (:mod:`~ytmaker.providers.youtube.upload`). A
different hash is a different video: a new upload and a new record. When the retries of a
failing upload are used up (:mod:`~ytmaker.providers.youtube.retry`), ``publish()`` raises
(retryable); the record keeps the session and the next call resumes it.
"""

from __future__ import annotations

import logging
import mimetypes
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from googleapiclient.http import HttpRequest

from ytmaker.core.hashing import file_sha256
from ytmaker.core.media_types import Publication
from ytmaker.core.requests import PublishRequest
from ytmaker.core.settings import Settings
from ytmaker.providers.errors import ProviderError
from ytmaker.providers.youtube.client import DEFAULT_BASE_URL, build_service, close_service, service_credentials
from ytmaker.providers.youtube.errors import YouTubeErrors
from ytmaker.providers.youtube.ledger import DailyQuota
from ytmaker.providers.youtube.metadata import EDUCATION_CATEGORY, video_body
from ytmaker.providers.youtube.oauth import TokenFile
from ytmaker.providers.youtube.record import UploadRecord, now
from ytmaker.providers.youtube.retry import DEFAULT_RETRY_DELAYS, Retrier
from ytmaker.providers.youtube.upload import DEFAULT_CHUNK_SIZE, FileUpload, ResumableUpload

PROVIDER = "YOUTUBE"

log = logging.getLogger(__name__)


class YouTubePublisher:
    """Publishes a rendered video to YouTube; see the package docstring for the guarantees.

    ``quota_ledger`` turns on the daily quota (:mod:`~ytmaker.providers.youtube.ledger`):
    the publisher built by ``from_settings`` checks and records its calls; one built
    directly (a test, a script) does neither unless asked. The upload record's path comes
    with each :class:`PublishRequest`.
    """

    def __init__(
        self,
        token_file: Path | str,
        base_url: str = DEFAULT_BASE_URL,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        timeout: float = 60.0,
        *,
        category_id: str = EDUCATION_CATEGORY,
        retry_delays: Sequence[float] = DEFAULT_RETRY_DELAYS,
        timezone_name: str = "UTC",
        quota_ledger: bool = False,
    ):
        self.base_url = base_url.rstrip("/") + "/"
        self.token = TokenFile(token_file, self.base_url)
        self.errors = YouTubeErrors(self.token.redact, self.token.path, self.base_url)
        self.retry = Retrier(retry_delays, self.errors)
        self.upload = ResumableUpload(self.retry, chunk_size)
        self.timeout = timeout
        self.category_id = category_id
        self.timezone = ZoneInfo(timezone_name)
        self.quota = DailyQuota(enabled=quota_ledger)

    @classmethod
    def from_settings(cls, settings: Settings) -> "YouTubePublisher":
        token_file = settings.youtube_token_file
        if token_file is None or not Path(token_file).expanduser().is_file():
            raise ProviderError(PROVIDER, "AUTH", "YOUTUBE_TOKEN_FILE is not set or missing")
        return cls(
            token_file=token_file,
            base_url=settings.youtube_base_url,
            timeout=settings.http_timeout_seconds,
            timezone_name=settings.timezone,
            quota_ledger=True,
            chunk_size=settings.youtube_upload_chunk_bytes,
        )

    @property
    def token_file(self) -> Path:
        return self.token.path

    @property
    def quota_ledger(self) -> bool:
        return self.quota.enabled

    # ------------------------------------------------------------------ public API

    def publish(self, request: PublishRequest) -> Publication:
        video = Path(request.video_path)
        thumbnail = Path(request.thumbnail_path)
        for label, path in (("video", video), ("thumbnail", thumbnail)):
            if not path.is_file():
                raise ProviderError(PROVIDER, "BAD_REQUEST", f"the {label} file {path} does not exist")
        if video.stat().st_size == 0:
            raise ProviderError(PROVIDER, "BAD_REQUEST", f"the video file {video} is empty")
        if not request.upload_record_path:
            raise ProviderError(PROVIDER, "BAD_REQUEST", "the publish request names no upload record (upload_record_path)")

        record = UploadRecord(request.upload_record_path)
        with record.locked():
            record.load(request.video_sha256)
            thumb_sha = file_sha256(thumbnail)
            if record.video_id and record.thumbnail_is(thumb_sha):
                log.info("project %s: video %s is already published; nothing to do", request.project_id, record.video_id)
            else:
                self.quota.ensure_room(record.calls_needed(thumb_sha))
                self._publish_steps(request, video, thumbnail, thumb_sha, record)

        video_id = record.data["video_id"]
        return Publication(
            video_id=video_id,
            video_url=f"https://www.youtube.com/watch?v={video_id}",
            video_status=record.data.get("video_status") or request.privacy,
        )

    def channel(self) -> dict[str, str]:
        """The authorised channel's ``id`` and ``title`` (``channels.list(mine=true)``)."""
        service = self._service()
        try:
            with self.token.refresh_errors():
                reply = self._execute(lambda: service.channels().list(part="snippet", mine=True))
            self.quota.spent("channels.list")
        finally:
            self._close(service)
        items = reply.get("items") or []
        if not items:
            raise ProviderError(PROVIDER, "FORBIDDEN", "the token's Google account has no YouTube channel")
        return {"id": items[0].get("id", ""), "title": items[0].get("snippet", {}).get("title", "")}

    # ------------------------------------------------------------------ steps

    def _publish_steps(
        self, request: PublishRequest, video: Path, thumbnail: Path, thumb_sha: str, record: UploadRecord
    ) -> None:
        def spent(method: str) -> None:
            self.quota.spent(method, request.project_id)

        service = self._service()
        try:
            with self.token.refresh_errors():
                if not record.video_id:
                    body = video_body(request, self.category_id, self.timezone)
                    resource = self.upload.run(
                        service, body, video, request.video_sha256, record, on_insert=lambda: spent("videos.insert")
                    )
                    status = resource.get("status") or {}
                    record.save(  # at once: the video exists now
                        video_id=resource["id"],
                        video_status=status.get("uploadStatus") or ("scheduled" if request.publish_at else request.privacy),
                        privacy_status=status.get("privacyStatus"),
                        completed_at=now(),
                    )
                    log.info("project %s: uploaded video %s", request.project_id, record.video_id)
                else:
                    log.info("project %s: video %s already uploaded; not uploading again", request.project_id, record.video_id)

                if not record.thumbnail_is(thumb_sha):
                    self._set_thumbnail(service, record.video_id, thumbnail)
                    spent("thumbnails.set")
                    record.save(thumbnail_set=True, thumbnail_sha256=thumb_sha, thumbnail_set_at=now())
        finally:
            self._close(service)

    def _set_thumbnail(self, service: Any, video_id: str, thumbnail: Path) -> None:
        mimetype = mimetypes.guess_type(thumbnail.name)[0] or "image/jpeg"
        if mimetype not in ("image/jpeg", "image/png"):
            mimetype = "image/jpeg"
        self._execute(
            lambda: service.thumbnails().set(videoId=video_id, media_body=FileUpload(str(thumbnail), mimetype=mimetype))
        )

    def _execute(self, make: Callable[[], HttpRequest]) -> Any:
        """Run an idempotent call (a request made anew for each try) under the retry policy."""
        return self.retry.run(lambda: make().execute(num_retries=0), "calling the API")

    # ------------------------------------------------------------------ client

    def _service(self) -> Any:
        return build_service(self.token.credentials(), self.base_url, self.timeout)

    def _close(self, service: Any) -> None:
        self.token.save_if_changed(service_credentials(service))
        close_service(service)
