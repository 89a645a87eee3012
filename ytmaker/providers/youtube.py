"""YouTube publisher: a resumable ``videos.insert`` upload, then ``thumbnails.set``.

A real client of the YouTube Data API v3 through google-api-python-client, with OAuth user
credentials from an *authorized-user* token file (``YOUTUBE_TOKEN_FILE``; see
``scripts/youtube_token.py``). Returns the same :class:`Publication` shape as the local target.

Base URL override
    google-api-python-client builds media-upload URLs from the discovery document's
    ``rootUrl`` (``{rootUrl}upload/{servicePath}{path}``), not from
    ``client_options.api_endpoint``: with only ``api_endpoint`` set, uploads would still go
    to the real host (only the host name is swapped, the scheme and any path prefix are not).
    So the bundled static discovery document is loaded and its ``rootUrl``/``baseUrl``/
    ``mtlsRootUrl`` are rewritten to ``YOUTUBE_BASE_URL`` before ``build_from_document``:
    every request — metadata, session creation, chunk PUTs, thumbnails — goes there.

Never a duplicate video
    One upload record per project, ``{projects_dir}/{project_id}/output/youtube_upload.json``,
    written atomically at each step:

    1. the resumable session is created explicitly (POST with the metadata, answered by a
       ``Location`` session URI) and ``{video_sha256, session_uri, started_at}`` is saved
       *before the first byte of video goes out*;
    2. when the last chunk is acknowledged, ``video_id`` is saved at once;
    3. after ``thumbnails.set``, ``thumbnail_set`` (and the thumbnail's hash) is saved.

    ``publish()`` reads the record first. Same ``video_sha256`` and a ``video_id``: no upload,
    only the thumbnail if not yet set (or changed). Same hash and a ``session_uri`` but no
    ``video_id``: the session is *resumed* — its status is queried (``PUT`` with
    ``Content-Range: bytes */{size}``): 308 + ``Range`` resumes from there, 200/201 means the
    upload had already finished (the video id is read from the reply). A different hash is a
    different video: a new upload and a new record.

    The one case where a second ``videos.insert`` is made for the same video file: the
    server answers 404/410 for the recorded session, i.e. it does not know the session (it
    expired, Google keeps them about a week). While a session exists, a finished upload
    answers 200/201 with the video, so a 404/410 means the first upload never completed —
    unless the crash happened in the instant between the server finishing the upload and
    this module writing ``video_id`` (step 2) *and* the session then expired before the next
    try; that window is not closable from the client.

    A 5xx or a connection error while sending chunks never starts a new insert: the same
    session is queried and resumed, with bounded backoff (``retry_delays``). Only when those
    retries are used up does ``publish()`` raise (retryable); the record keeps the session
    and the next call resumes it. A concurrent ``publish()`` of the same project on this
    host waits on a lock file next to the record.

Credentials
    The token file is read with ``Credentials.from_authorized_user_file``; an expired or
    missing access token is refreshed up front and written back (atomically, mode 0600), as
    is one google-auth refreshes mid-run after a 401. google-auth ignores the file's
    ``token_uri``; this module honours it only when it is Google's token endpoint or on the
    ``YOUTUBE_BASE_URL`` host (a proxy, the fake server in tests).

Errors are :class:`ProviderError` with ``YOUTUBE_*`` codes: 401 (and a refused token
refresh) → ``YOUTUBE_AUTH``, ``quotaExceeded`` (403) / ``uploadLimitExceeded`` (400 or 403) →
``YOUTUBE_QUOTA_EXCEEDED``, other 403 → ``YOUTUBE_FORBIDDEN``, 400 → ``YOUTUBE_BAD_REQUEST``,
429 → ``YOUTUBE_RATE_LIMITED``, 5xx → ``YOUTUBE_SERVER_ERROR``. Access tokens, the refresh
token and the client secret are scrubbed from every message.

Daily quota (``quota_ledger``, on for the pipeline's publisher built by ``from_settings``)
    Each ``videos.insert`` (when its session is created), ``thumbnails.set`` and
    ``channels.list`` the server answers is written to the ledger (:mod:`ytmaker.runtime.quota`).
    Before a publish that needs a new insert and/or a thumbnail, the units they cost are
    checked against what is left of today's 10,000 (the day starts at midnight Pacific
    time); if they would not fit, nothing is sent and ``YOUTUBE_QUOTA_EXCEEDED`` is raised
    (not retried by the task). ``video_flow`` then waits for the reset: a deployed run
    schedules a new run of its deployment for just after it, a run in a plain process sleeps
    until then (see ``flows/quota_wait.py``). A quota refusal from the API is handled the same.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import http.client
import json
import logging
import mimetypes
import os
import re
import socket
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import google.auth.exceptions
import google_auth_httplib2
import httplib2
from google.auth.transport.requests import Request as RefreshRequest
from google.oauth2.credentials import Credentials
from googleapiclient import discovery_cache
from googleapiclient.discovery import build_from_document
from googleapiclient.errors import HttpError
from googleapiclient.http import HttpRequest, MediaFileUpload

from ytmaker.core.media_types import Publication
from ytmaker.core.paths import ProjectPaths
from ytmaker.providers.base import PublishRequest
from ytmaker.providers.errors import ProviderError, kind_for_status, parse_retry_after
from ytmaker.runtime.quota import (
    DAILY_YOUTUBE_UNITS,
    YOUTUBE_UNITS,
    record_youtube_call,
    seconds_until_youtube_reset,
    youtube_units_used_today,
)
from ytmaker.core.settings import Settings

PROVIDER = "YOUTUBE"
SCOPES = [
    "https://www.googleapis.com/auth/youtube.upload",
    "https://www.googleapis.com/auth/youtube",
]
DEFAULT_BASE_URL = "https://www.googleapis.com/"
RECORD_NAME = "youtube_upload.json"
CHUNK_GRANULARITY = 256 * 1024  # resumable chunks must be multiples of 256 KiB
DEFAULT_CHUNK_SIZE = 8 * 1024 * 1024
DEFAULT_RETRY_DELAYS = (1.0, 2.0, 4.0, 8.0, 16.0)
EDUCATION_CATEGORY = "27"

_GOOGLE_TOKEN_HOSTS = frozenset({"oauth2.googleapis.com", "accounts.google.com", "www.googleapis.com"})
_SERVER_ERRORS = frozenset({500, 502, 503, 504})
_SESSION_GONE = frozenset({404, 410})
_QUOTA_REASONS = frozenset({"quotaExceeded", "uploadLimitExceeded", "dailyLimitExceeded"})
_RATE_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded"})
# Google access tokens (ya29.), refresh tokens (1//) and anything after "Bearer ".
_TOKEN_PATTERN = re.compile(r"(Bearer\s+|\bya29\.|\b1//)[A-Za-z0-9._~+/=-]+")
# Transport failures worth a retry on the same session. OSError is caught, then narrowed by
# _is_transport (a file that cannot be read is not a network problem).
_TRANSPORT_ERRORS = (OSError, http.client.HTTPException, httplib2.HttpLib2Error)
_NETWORK_ERRNOS = frozenset(
    getattr(errno, name)
    for name in ("ECONNREFUSED", "ECONNRESET", "ECONNABORTED", "EPIPE", "ETIMEDOUT", "ENETUNREACH",
                 "ENETDOWN", "ENETRESET", "EHOSTUNREACH", "EHOSTDOWN", "EADDRNOTAVAIL")
    if hasattr(errno, name)
)


def _is_transport(exc: BaseException) -> bool:
    if isinstance(exc, (ConnectionError, TimeoutError, socket.gaierror, http.client.HTTPException, httplib2.HttpLib2Error)):
        return True
    return isinstance(exc, OSError) and exc.errno in _NETWORK_ERRNOS

log = logging.getLogger(__name__)


class _FileUpload(MediaFileUpload):
    """A MediaFileUpload whose chunks are sent as ``bytes`` rather than a stream slice.

    httplib2 silently re-sends a request once when a kept-alive connection turns out to be
    dead, and google-auth-httplib2 re-sends after a 401 refresh; a stream body would be
    exhausted by then (an empty body under a non-zero Content-Length, which hangs until the
    timeout). ``bytes`` can be re-sent. One chunk is held in memory at a time.
    """

    def has_stream(self) -> bool:  # noqa: D401 - googleapiclient's interface
        return False

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._fd.close()


@dataclass
class _SessionState:
    offset: int = 0  # bytes the server has
    resource: dict[str, Any] | None = None  # the video, when the upload had finished
    gone: bool = False  # 404/410: the server does not know the session


class _SessionGone(Exception):
    """The recorded/open session is unknown to the server (404/410)."""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_atomic(path: Path, text: str, mode: int = 0o600) -> None:
    """Write ``text`` to ``path`` through a temp file in the same folder, fsync, rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock on ``path`` (a lock file next to the record) on this host."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    with open(path, "a+") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _clean_text(text: str) -> str:
    """YouTube refuses '<' and '>' in titles, descriptions and tags (invalidTitle etc.)."""
    return text.replace("<", "‹").replace(">", "›")


def _fit_description(text: str, limit: int = 5000) -> str:
    """YouTube counts the description's limit in UTF-8 bytes (5000), not characters."""
    data = _clean_text(text).encode("utf-8")
    return data[:limit].decode("utf-8", "ignore") if len(data) > limit else _clean_text(text)


def _fit_tags(tags: Sequence[str], limit: int = 500) -> list[str]:
    """Tags in order while their total stays within YouTube's 500 characters (a tag with a
    space counts its quotes; tags are comma-separated); duplicates dropped."""
    kept: list[str] = []
    used = 0
    for tag in tags:
        tag = _clean_text(tag).replace(",", " ").strip()
        if not tag or tag in kept:
            continue
        cost = len(tag) + (2 if " " in tag else 0) + (1 if kept else 0)
        if used + cost > limit:
            continue
        kept.append(tag)
        used += cost
    return kept


def _google_error(content: bytes | str | None) -> tuple[str | None, str]:
    """(first ``errors[].reason`` or ``status``, ``message``) of a Google error body."""
    if isinstance(content, bytes):
        content = content.decode("utf-8", "replace")
    content = content or ""
    try:
        data = json.loads(content)
    except ValueError:
        return None, content.strip()[:300]
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, str):  # OAuth style: {"error": "invalid_grant", "error_description": ...}
        return error, str(data.get("error_description") or "")
    if not isinstance(error, dict):
        return None, content.strip()[:300]
    reason = None
    errors = error.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        reason = errors[0].get("reason")
    if not reason:
        details = error.get("details")
        if isinstance(details, list):
            for item in details:
                if isinstance(item, dict) and item.get("reason"):
                    reason = item["reason"]
                    break
    return reason or error.get("status"), str(error.get("message") or "")


class YouTubePublisher:
    """Publishes a rendered video to YouTube; see the module docstring for the guarantees.

    ``records_dir`` is the projects folder (the record goes to
    ``{records_dir}/{project_id}/output/youtube_upload.json``) or a callable
    ``project_id -> record file path``.
    """

    def __init__(
        self,
        token_file: Path | str,
        base_url: str = DEFAULT_BASE_URL,
        records_dir: Path | str | Callable[[int], Path] | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        timeout: float = 60.0,
        *,
        category_id: str = EDUCATION_CATEGORY,
        retry_delays: Sequence[float] = DEFAULT_RETRY_DELAYS,
        timezone_name: str = "UTC",
        quota_ledger: bool = False,
    ):
        if chunk_size <= 0 or chunk_size % CHUNK_GRANULARITY:
            raise ValueError(f"chunk_size must be a positive multiple of 256 KiB ({CHUNK_GRANULARITY}), not {chunk_size}")
        self.token_file = Path(token_file).expanduser()
        self.base_url = base_url.rstrip("/") + "/"
        if records_dir is None:
            from ytmaker.core.settings import get_settings

            records_dir = get_settings().projects_dir
        self._records = records_dir if callable(records_dir) else Path(records_dir)
        self.chunk_size = chunk_size
        self.timeout = timeout
        self.category_id = category_id
        self.retry_delays = tuple(float(d) for d in retry_delays)
        self.timezone = ZoneInfo(timezone_name)
        self.quota_ledger = quota_ledger  # record calls in / check uploads against the daily quota ledger
        self._project_id: int | None = None  # the project being published (ledger rows)
        self._secrets: set[str] = set()
        self._creds: Credentials | None = None
        self._saved_token: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> "YouTubePublisher":
        token_file = settings.youtube_token_file
        if token_file is None or not Path(token_file).expanduser().is_file():
            raise ProviderError(PROVIDER, "AUTH", "YOUTUBE_TOKEN_FILE is not set or missing")
        return cls(
            token_file=token_file,
            base_url=settings.youtube_base_url,
            records_dir=settings.projects_dir,
            timeout=settings.http_timeout_seconds,
            timezone_name=settings.timezone,
            quota_ledger=True,
            chunk_size=settings.youtube_upload_chunk_bytes,
        )

    # ------------------------------------------------------------------ public API

    def record_path(self, project_id: int) -> Path:
        if callable(self._records):
            return Path(self._records(project_id))
        return ProjectPaths.for_project(self._records, project_id).output_dir / RECORD_NAME

    def publish(self, request: PublishRequest) -> Publication:
        video = Path(request.video_path)
        thumbnail = Path(request.thumbnail_path)
        for label, path in (("video", video), ("thumbnail", thumbnail)):
            if not path.is_file():
                raise ProviderError(PROVIDER, "BAD_REQUEST", f"the {label} file {path} does not exist")
        if video.stat().st_size == 0:
            raise ProviderError(PROVIDER, "BAD_REQUEST", f"the video file {video} is empty")

        record_path = self.record_path(request.project_id)
        with _locked(record_path.with_name(record_path.name + ".lock")):
            record = self._load_record(record_path)
            if record and record.get("video_sha256") != request.video_sha256:
                log.info("project %s: a different video than the recorded one: new upload", request.project_id)
                previous = record.get("previous", [])
                record.pop("previous", None)
                record = {"previous": [*previous, record][-10:]}
            record = record or {}
            thumb_sha = _sha256_file(thumbnail)
            if record.get("video_id") and record.get("thumbnail_set") and record.get("thumbnail_sha256") == thumb_sha:
                log.info("project %s: video %s is already published; nothing to do", request.project_id, record["video_id"])
            else:
                self._check_quota(record, thumb_sha)
                self._project_id = request.project_id
                try:
                    self._publish_steps(request, video, thumbnail, thumb_sha, record, record_path)
                finally:
                    self._project_id = None

        video_id = record["video_id"]
        return Publication(
            video_id=video_id,
            video_url=f"https://www.youtube.com/watch?v={video_id}",
            video_status=record.get("video_status") or request.privacy,
        )

    def _publish_steps(
        self, request: PublishRequest, video: Path, thumbnail: Path, thumb_sha: str, record: dict[str, Any], record_path: Path
    ) -> None:
        service = self._service()
        try:
            with self._refresh_errors():
                if not record.get("video_id"):
                    resource = self._upload(service, request, video, record, record_path)
                    status = resource.get("status") or {}
                    record.update(
                        video_id=resource["id"],
                        video_status=status.get("uploadStatus") or ("scheduled" if request.publish_at else request.privacy),
                        privacy_status=status.get("privacyStatus"),
                        completed_at=_now(),
                    )
                    self._save_record(record_path, record)  # at once: the video exists now
                    log.info("project %s: uploaded video %s", request.project_id, record["video_id"])
                else:
                    log.info("project %s: video %s already uploaded; not uploading again", request.project_id, record["video_id"])

                if not record.get("thumbnail_set") or record.get("thumbnail_sha256") != thumb_sha:
                    self._set_thumbnail(service, record["video_id"], thumbnail)
                    record.update(thumbnail_set=True, thumbnail_sha256=thumb_sha, thumbnail_set_at=_now())
                    self._save_record(record_path, record)
        finally:
            self._close(service)

    def _check_quota(self, record: dict[str, Any], thumb_sha: str) -> None:
        """Refuse (retryable) before sending anything when today's quota cannot cover the
        new insert (a resumed session costs nothing more) and the thumbnail."""
        if not self.quota_ledger:
            return
        needed = 0
        if not record.get("video_id") and not record.get("session_uri"):
            needed += YOUTUBE_UNITS["videos.insert"]
        if not record.get("video_id") or not record.get("thumbnail_set") or record.get("thumbnail_sha256") != thumb_sha:
            needed += YOUTUBE_UNITS["thumbnails.set"]
        try:
            used = youtube_units_used_today()
        except Exception as exc:  # noqa: BLE001 - an unreadable ledger must not stop publishing
            log.warning("the YouTube quota ledger could not be read (%s); uploading without the check", type(exc).__name__)
            return
        if needed and used + needed > DAILY_YOUTUBE_UNITS:
            # Not retried by the task (hours away): video_flow waits for the reset instead.
            raise ProviderError(
                PROVIDER,
                "QUOTA_EXCEEDED",
                "the daily quota would run out; it resets at midnight Pacific time "
                f"({used} of {DAILY_YOUTUBE_UNITS} units used today, {needed} needed)",
                details={"units_used": used, "units_needed": needed, "daily_units": DAILY_YOUTUBE_UNITS,
                         "seconds_until_reset": round(seconds_until_youtube_reset())},
            )

    def _ledger(self, method: str) -> None:
        """Write a sent call to the quota ledger; a ledger failure never fails the call."""
        if not self.quota_ledger:
            return
        try:
            record_youtube_call(method, self._project_id)
        except Exception as exc:  # noqa: BLE001
            log.warning("could not record %s in the YouTube quota ledger: %s", method, type(exc).__name__)

    def _close(self, service: Any) -> None:
        self._save_token_if_changed(service._http.credentials)
        with contextlib.suppress(Exception):
            service._http.close()

    def channel(self) -> dict[str, str]:
        """The authorised channel's ``id`` and ``title`` (``channels.list(mine=true)``)."""
        service = self._service()
        try:
            with self._refresh_errors():
                reply = self._execute(lambda: service.channels().list(part="snippet", mine=True))
            self._ledger("channels.list")
        finally:
            self._close(service)
        items = reply.get("items") or []
        if not items:
            raise ProviderError(PROVIDER, "FORBIDDEN", "the token's Google account has no YouTube channel")
        return {"id": items[0].get("id", ""), "title": items[0].get("snippet", {}).get("title", "")}

    # ------------------------------------------------------------------ credentials & client

    def _load_credentials(self) -> Credentials:
        if not self.token_file.is_file():
            raise ProviderError(PROVIDER, "AUTH", f"YOUTUBE_TOKEN_FILE {self.token_file} does not exist")
        try:
            creds = Credentials.from_authorized_user_file(str(self.token_file), scopes=SCOPES)
            file_token_uri = json.loads(self.token_file.read_text(encoding="utf-8")).get("token_uri")
        except (ValueError, KeyError, TypeError, AttributeError, OSError) as exc:
            raise ProviderError(
                PROVIDER, "AUTH", f"YOUTUBE_TOKEN_FILE {self.token_file} is not an authorized-user token file ({type(exc).__name__})"
            ) from None
        # Recent google-auth (2.62 here) ignores the file's token_uri and refreshes at Google's
        # endpoint, so that a planted token file cannot send the refresh token and client
        # secret elsewhere. The file's token_uri is honoured only when it is Google's or on the
        # configured API host (YOUTUBE_BASE_URL: a proxy, or the fake server in tests).
        if file_token_uri and file_token_uri != creds.token_uri:
            if self._trusted_token_uri(file_token_uri):
                expiry = creds.expiry
                creds = creds.with_token_uri(file_token_uri)
                creds.expiry = expiry  # the copy drops it (and would look forever fresh)
            else:
                log.warning(
                    "ignoring token_uri %s in YOUTUBE_TOKEN_FILE (not Google's and not on YOUTUBE_BASE_URL's host); "
                    "refreshing at %s", file_token_uri, creds.token_uri
                )
        self._creds = creds
        self._remember_secrets(creds)
        self._saved_token = creds.token
        if not creds.valid:  # expired, or no access token yet
            with self._refresh_errors():
                creds.refresh(RefreshRequest())
            self._save_token_if_changed(creds)
        return creds

    @contextlib.contextmanager
    def _refresh_errors(self) -> Iterator[None]:
        """google-auth refresh failures (up front, or mid-upload inside AuthorizedHttp)."""
        try:
            yield
        except google.auth.exceptions.RefreshError as exc:
            raise ProviderError(PROVIDER, "AUTH", f"the token refresh was refused: {self._redact(str(exc))[:300]}") from None
        except google.auth.exceptions.TransportError as exc:
            token_uri = self._creds.token_uri if self._creds is not None else "the token endpoint"
            raise ProviderError(PROVIDER, "CONNECTION", f"token refresh at {token_uri}: {self._redact(str(exc))[:300]}") from None

    def _trusted_token_uri(self, uri: str) -> bool:
        parts = urlsplit(uri)
        if parts.scheme == "https" and parts.hostname in _GOOGLE_TOKEN_HOSTS:
            return True
        base = urlsplit(self.base_url)
        return (parts.scheme, parts.hostname, parts.port) == (base.scheme, base.hostname, base.port)

    def _remember_secrets(self, creds: Credentials) -> None:
        for value in (creds.token, creds.refresh_token, creds.client_secret):
            if value and len(value) >= 6:
                self._secrets.add(value)

    def _redact(self, text: str) -> str:
        if self._creds is not None:  # google-auth may have refreshed the token on a 401 meanwhile
            self._remember_secrets(self._creds)
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, "***")
        return _TOKEN_PATTERN.sub(lambda m: m.group(1) + "***", text)

    def _save_token_if_changed(self, creds: Credentials) -> None:
        """Write a refreshed access token back to the token file (atomically, mode 0600)."""
        self._remember_secrets(creds)
        if not creds.token or creds.token == self._saved_token:
            return
        try:
            existing = json.loads(self.token_file.read_text(encoding="utf-8"))
            if not isinstance(existing, dict):
                existing = {}
        except (OSError, ValueError):
            existing = {}
        existing.update(json.loads(creds.to_json()))
        try:  # through a symlink to its target (e.g. a mounted secret)
            _write_atomic(self.token_file.resolve(), json.dumps(existing, indent=2) + "\n", mode=0o600)
        except OSError as exc:  # a read-only mount: the token in memory still works, the next run refreshes again
            log.warning("could not save the refreshed token to %s: %s", self.token_file, type(exc).__name__)
            return
        self._saved_token = creds.token

    def _discovery_document(self) -> dict[str, Any]:
        text = discovery_cache.get_static_doc("youtube", "v3")
        if not text:  # pragma: no cover - the document ships with google-api-python-client
            raise ProviderError(PROVIDER, "INVALID_RESPONSE", "google-api-python-client has no static youtube v3 discovery document")
        doc = json.loads(text)
        # Media-upload URLs are built from rootUrl (+ "upload/" + servicePath + path), not
        # from api_endpoint; point everything at the configured base URL.
        doc["rootUrl"] = self.base_url
        doc["mtlsRootUrl"] = self.base_url
        doc["baseUrl"] = self.base_url + doc.get("servicePath", "")
        return doc

    def _service(self) -> Any:
        creds = self._load_credentials()
        http = httplib2.Http(timeout=self.timeout)
        # 308 is "Resume Incomplete" in resumable uploads, not a redirect to follow.
        http.redirect_codes = set(http.redirect_codes) - {308}
        authed = google_auth_httplib2.AuthorizedHttp(creds, http=http)
        return build_from_document(
            self._discovery_document(),
            http=authed,
            client_options={"api_endpoint": self.base_url},
        )

    # ------------------------------------------------------------------ upload

    def _body(self, request: PublishRequest) -> dict[str, Any]:
        snippet: dict[str, Any] = {
            "title": _clean_text(request.metadata.title)[:100],
            "description": _fit_description(request.metadata.description),
            "tags": _fit_tags(request.metadata.tags),
            "categoryId": self.category_id,
            "defaultLanguage": request.language,
        }
        status: dict[str, Any] = {
            "privacyStatus": request.privacy,
            "selfDeclaredMadeForKids": False,
            "containsSyntheticMedia": True,
        }
        if request.publish_at:
            status["publishAt"] = self._publish_at(request.publish_at)
            if request.privacy != "private":
                log.info("publishAt is set: uploading as private (YouTube makes it public at %s)", status["publishAt"])
            status["privacyStatus"] = "private"  # the API only schedules private videos
        return {"snippet": snippet, "status": status}

    def _publish_at(self, value: str) -> str:
        try:
            when = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ProviderError(PROVIDER, "BAD_REQUEST", f"publish_at {value!r} is not an ISO 8601 date-time") from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=self.timezone)
        return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")

    def _upload(
        self, service: Any, request: PublishRequest, video: Path, record: dict[str, Any], record_path: Path
    ) -> dict[str, Any]:
        """Resume the recorded session, or create one; send the chunks; return the video."""
        size = video.stat().st_size
        body = self._body(request)
        for _ in range(2):  # a second round only after the server forgot the session (404/410)
            media = _FileUpload(str(video), mimetype="video/mp4", chunksize=self.chunk_size, resumable=True)
            try:
                insert: HttpRequest = service.videos().insert(part="snippet,status", body=body, media_body=media)
                session_uri = record.get("session_uri")
                if session_uri:
                    state = self._query_session(insert.http, session_uri, size)
                    if state.resource is not None:
                        log.info("the recorded upload session had already finished")
                        return self._video_resource(state.resource)
                    if state.gone:
                        log.warning(
                            "the recorded upload session is unknown to the server (expired, never completed): "
                            "starting a new upload"
                        )
                        self._forget_session(record, record_path, "expired")
                    else:
                        log.info("resuming the recorded upload session at byte %d of %d", state.offset, size)
                        insert.resumable_uri = session_uri
                        insert.resumable_progress = state.offset
                if insert.resumable_uri is None:
                    session_uri = self._create_session(insert, media, size)
                    self._ledger("videos.insert")
                    record.update(
                        video_sha256=request.video_sha256,
                        video_size=size,
                        session_uri=session_uri,
                        started_at=_now(),
                        video_id=None,
                        thumbnail_set=False,
                    )
                    self._save_record(record_path, record)  # before the first byte goes out
                    insert.resumable_uri = session_uri
                return self._send_chunks(insert)
            except _SessionGone:
                log.warning("the upload session vanished mid-upload (404/410): starting a new upload")
                self._forget_session(record, record_path, "vanished")
            finally:
                media.close()
        raise ProviderError(PROVIDER, "SERVER_ERROR", "the upload session was lost twice in a row")

    def _forget_session(self, record: dict[str, Any], record_path: Path, why: str) -> None:
        lost = record.pop("session_uri", None)
        record.setdefault("lost_sessions", []).append({"session_uri": lost, "started_at": record.get("started_at"), "why": why})
        self._save_record(record_path, record)

    def _create_session(self, insert: HttpRequest, media: MediaFileUpload, size: int) -> str:
        """POST the metadata and get the resumable session URI, before any video byte is sent.

        The same request googleapiclient makes in its first ``next_chunk`` — done here on its
        own so the session URI can be recorded before the upload starts.
        """
        headers = dict(insert.headers)
        headers["X-Upload-Content-Type"] = media.mimetype()
        headers["X-Upload-Content-Length"] = str(size)
        headers["content-length"] = str(insert.body_size)
        try:
            resp, content = insert.http.request(insert.uri, method=insert.method, body=insert.body, headers=headers)
        except _TRANSPORT_ERRORS as exc:
            if not _is_transport(exc):
                raise
            raise self._transport_error(exc, "creating the upload session") from None
        if resp.status == 200 and "location" in resp:
            return resp["location"]
        if resp.status < 300:
            raise ProviderError(PROVIDER, "INVALID_RESPONSE", f"no session URI (HTTP {resp.status}, no Location header)", status=resp.status)
        raise self._status_error(resp.status, content, resp)

    def _query_session(self, http: Any, session_uri: str, size: int) -> _SessionState:
        """Ask the server how much of the session it has: 308+Range, 200/201 done, 404/410 gone."""
        failures = 0
        while True:
            try:
                resp, content = http.request(
                    session_uri, "PUT", body=b"", headers={"Content-Range": f"bytes */{size}", "Content-Length": "0"}
                )
            except _TRANSPORT_ERRORS as exc:
                if not _is_transport(exc):
                    raise
                if failures < len(self.retry_delays):
                    self._pause(failures, f"{type(exc).__name__} querying the upload session")
                    failures += 1
                    continue
                raise self._transport_error(exc, "querying the upload session") from None
            if resp.status in (200, 201):
                try:
                    return _SessionState(resource=json.loads(content))
                except ValueError:
                    raise ProviderError(PROVIDER, "INVALID_RESPONSE", "the finished session's reply is not JSON", status=resp.status) from None
            if resp.status == 308:
                offset = 0
                if "range" in resp:
                    offset = int(resp["range"].rsplit("-", 1)[1]) + 1
                return _SessionState(offset=offset)
            if resp.status in _SESSION_GONE:
                return _SessionState(gone=True)
            if resp.status in _SERVER_ERRORS and failures < len(self.retry_delays):
                self._pause(failures, f"HTTP {resp.status} querying the upload session", resp)
                failures += 1
                continue
            raise self._status_error(resp.status, content, resp)

    def _send_chunks(self, insert: HttpRequest) -> dict[str, Any]:
        """``next_chunk()`` until done; 5xx / connection errors resume the same session.

        After a failed chunk googleapiclient marks the request as in error, and its next
        ``next_chunk()`` first asks the session how many bytes arrived (``bytes */size``) and
        continues from there. The retry budget is per stall: it is reset whenever the server
        acknowledges more bytes.
        """
        failures = 0
        acknowledged = insert.resumable_progress
        while True:
            try:
                progress, resource = insert.next_chunk(num_retries=0)
            except HttpError as exc:
                status = exc.resp.status
                if status in _SESSION_GONE:
                    raise _SessionGone() from None
                if status in _SERVER_ERRORS and failures < len(self.retry_delays):
                    self._pause(failures, f"HTTP {status} sending the video", exc.resp)
                    failures += 1
                    continue
                raise self._status_error(status, exc.content, exc.resp) from None
            except _TRANSPORT_ERRORS as exc:
                if not _is_transport(exc):
                    raise
                insert._in_error_state = True  # make sure the next call asks the session first
                if failures < len(self.retry_delays):
                    self._pause(failures, f"{type(exc).__name__} sending the video")
                    failures += 1
                    continue
                raise self._transport_error(exc, "sending the video") from None
            if resource is not None:
                return self._video_resource(resource)
            if insert.resumable_progress > acknowledged:
                acknowledged = insert.resumable_progress
                failures = 0
            if progress is not None:
                log.debug("uploaded %d of %d bytes", progress.resumable_progress, progress.total_size or 0)

    @staticmethod
    def _video_resource(resource: Any) -> dict[str, Any]:
        if not isinstance(resource, dict) or not resource.get("id"):
            raise ProviderError(PROVIDER, "INVALID_RESPONSE", "the finished upload's reply has no video id")
        return resource

    def _pause(self, failures: int, what: str, resp: Any = None) -> None:
        delay = self.retry_delays[failures]
        retry_after = parse_retry_after(resp.get("retry-after")) if resp is not None else None
        if retry_after is not None:
            delay = max(delay, min(retry_after, 60.0))
        log.warning("%s; retry %d/%d of the same session in %.1fs", what, failures + 1, len(self.retry_delays), delay)
        time.sleep(delay)

    # ------------------------------------------------------------------ other calls

    def _set_thumbnail(self, service: Any, video_id: str, thumbnail: Path) -> None:
        mimetype = mimetypes.guess_type(thumbnail.name)[0] or "image/jpeg"
        if mimetype not in ("image/jpeg", "image/png"):
            mimetype = "image/jpeg"

        def make() -> HttpRequest:
            return service.thumbnails().set(videoId=video_id, media_body=_FileUpload(str(thumbnail), mimetype=mimetype))

        self._execute(make, retry=True)
        self._ledger("thumbnails.set")

    def _execute(self, make: Callable[[], HttpRequest], retry: bool = True) -> Any:
        """Run an idempotent call, retrying 5xx and connection errors with the same backoff."""
        failures = 0
        while True:
            try:
                return make().execute(num_retries=0)
            except HttpError as exc:
                status = exc.resp.status
                if retry and status in _SERVER_ERRORS and failures < len(self.retry_delays):
                    self._pause(failures, f"HTTP {status}", exc.resp)
                    failures += 1
                    continue
                raise self._status_error(status, exc.content, exc.resp) from None
            except _TRANSPORT_ERRORS as exc:
                if not _is_transport(exc):
                    raise
                if retry and failures < len(self.retry_delays):
                    self._pause(failures, type(exc).__name__)
                    failures += 1
                    continue
                raise self._transport_error(exc, "calling the API") from None

    # ------------------------------------------------------------------ errors

    def _status_error(self, status: int, content: Any, resp: Any = None) -> ProviderError:
        reason, message = _google_error(content)
        kind = kind_for_status(status)
        # videos.insert documents uploadLimitExceeded under 400, quotaExceeded under 403.
        if status in (400, 403) and reason in _QUOTA_REASONS:
            kind = "QUOTA_EXCEEDED"
        elif status == 403 and reason in _RATE_REASONS:
            kind = "RATE_LIMITED"
        detail = f"HTTP {status}" + (f" {reason}" if reason else "") + (f": {message}" if message else "")
        if status == 401:
            detail += f" (refresh or recreate the token in YOUTUBE_TOKEN_FILE {self.token_file})"
        retry_after = parse_retry_after(resp.get("retry-after")) if resp is not None else None
        return ProviderError(
            PROVIDER,
            kind,
            self._redact(detail)[:600],
            status=status,
            retry_after=retry_after,
            details={"reason": reason} if reason else None,
        )

    def _transport_error(self, exc: BaseException, doing: str) -> ProviderError:
        kind = "TIMEOUT" if isinstance(exc, TimeoutError) else "CONNECTION"
        return ProviderError(PROVIDER, kind, self._redact(f"{doing}: {type(exc).__name__}: {exc} ({self.base_url})")[:600])

    # ------------------------------------------------------------------ record

    def _load_record(self, path: Path) -> dict[str, Any] | None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            # Refusing is safer than guessing: an unreadable record might hide an upload.
            raise ProviderError(
                PROVIDER, "INVALID_RESPONSE", f"the upload record {path} is unreadable ({exc}); fix or remove it"
            ) from None
        return data if isinstance(data, dict) else None

    def _save_record(self, path: Path, record: dict[str, Any]) -> None:
        record["updated_at"] = _now()
        _write_atomic(path, json.dumps(record, ensure_ascii=False, indent=2) + "\n", mode=0o600)


from ytmaker.providers import register  # noqa: E402

register("publish", "youtube", YouTubePublisher.from_settings)
