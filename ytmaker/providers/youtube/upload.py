"""The resumable ``videos.insert`` upload, on a session that is recorded before any byte goes.

Through google-api-python-client's resumable upload (``MediaFileUpload`` and
``next_chunk``). The session is created explicitly (POST with the metadata, answered by a
``Location`` session URI) and saved in the upload record *before the first byte of video
goes out*. A recorded session is resumed: its status is queried (``PUT`` with
``Content-Range: bytes */{size}``): 308 + ``Range`` resumes from there, 200/201 means the
upload had already finished (the video is read from the reply).

The one case where a second ``videos.insert`` is made for the same video file: the server
answers 404/410 for the recorded session, i.e. it does not know the session (it expired,
Google keeps them about a week). While a session exists, a finished upload answers 200/201
with the video, so a 404/410 means the first upload never completed — unless the crash
happened in the instant between the server finishing the upload and the publisher writing
``video_id`` *and* the session then expired before the next try; that window is not
closable from the client.

A 5xx or a connection error while sending chunks never starts a new insert: the same
session is queried and resumed (:mod:`ytmaker.providers.youtube.retry`).
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from googleapiclient.errors import HttpError
from googleapiclient.http import HttpRequest, MediaFileUpload

from ytmaker.providers.errors import ProviderError
from ytmaker.providers.youtube.record import UploadRecord
from ytmaker.providers.youtube.retry import ErrorReply, Retrier, is_transport, TRANSPORT_ERRORS

PROVIDER = "YOUTUBE"
CHUNK_GRANULARITY = 256 * 1024  # resumable chunks must be multiples of 256 KiB
DEFAULT_CHUNK_SIZE = 8 * 1024 * 1024
SESSION_GONE = frozenset({404, 410})

log = logging.getLogger(__name__)


class FileUpload(MediaFileUpload):
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
class SessionState:
    offset: int = 0  # bytes the server has
    resource: dict[str, Any] | None = None  # the video, when the upload had finished
    gone: bool = False  # 404/410: the server does not know the session


class SessionGone(Exception):
    """The recorded/open session is unknown to the server (404/410)."""


def check_chunk_size(chunk_size: int) -> int:
    if chunk_size <= 0 or chunk_size % CHUNK_GRANULARITY:
        raise ValueError(f"chunk_size must be a positive multiple of 256 KiB ({CHUNK_GRANULARITY}), not {chunk_size}")
    return chunk_size


def video_resource(resource: Any) -> dict[str, Any]:
    if not isinstance(resource, dict) or not resource.get("id"):
        raise ProviderError(PROVIDER, "INVALID_RESPONSE", "the finished upload's reply has no video id")
    return resource


class ResumableUpload:
    """Uploads one video file in ``chunk_size`` chunks, resuming the recorded session."""

    def __init__(self, retry: Retrier, chunk_size: int = DEFAULT_CHUNK_SIZE):
        self.retry = retry
        self.chunk_size = check_chunk_size(chunk_size)

    def run(
        self,
        service: Any,
        body: dict[str, Any],
        video: Path,
        video_sha256: str,
        record: UploadRecord,
        on_insert: Callable[[], None],
    ) -> dict[str, Any]:
        """Resume the recorded session, or create one (then ``on_insert()``, and the record is
        saved); send the chunks; return the video resource."""
        size = video.stat().st_size
        for _ in range(2):  # a second round only after the server forgot the session (404/410)
            media = FileUpload(str(video), mimetype="video/mp4", chunksize=self.chunk_size, resumable=True)
            try:
                insert: HttpRequest = service.videos().insert(part="snippet,status", body=body, media_body=media)
                session_uri = record.session_uri
                if session_uri:
                    state = self._query_session(insert.http, session_uri, size)
                    if state.resource is not None:
                        log.info("the recorded upload session had already finished")
                        return video_resource(state.resource)
                    if state.gone:
                        log.warning(
                            "the recorded upload session is unknown to the server (expired, never completed): "
                            "starting a new upload"
                        )
                        record.forget_session("expired")
                    else:
                        log.info("resuming the recorded upload session at byte %d of %d", state.offset, size)
                        insert.resumable_uri = session_uri
                        insert.resumable_progress = state.offset
                if insert.resumable_uri is None:
                    session_uri = self._create_session(insert, media, size)
                    on_insert()
                    record.session_started(video_sha256, size, session_uri)  # before the first byte goes out
                    insert.resumable_uri = session_uri
                return self._send_chunks(insert)
            except SessionGone:
                log.warning("the upload session vanished mid-upload (404/410): starting a new upload")
                record.forget_session("vanished")
            finally:
                media.close()
        raise ProviderError(PROVIDER, "SERVER_ERROR", "the upload session was lost twice in a row")

    def _create_session(self, insert: HttpRequest, media: MediaFileUpload, size: int) -> str:
        """POST the metadata and get the resumable session URI, before any video byte is sent.

        The same request googleapiclient makes in its first ``next_chunk`` — done here on its
        own so the session URI can be recorded before the upload starts. Not retried: each
        new session is a new insert.
        """
        headers = dict(insert.headers)
        headers["X-Upload-Content-Type"] = media.mimetype()
        headers["X-Upload-Content-Length"] = str(size)
        headers["content-length"] = str(insert.body_size)

        def create() -> str:
            resp, content = insert.http.request(insert.uri, method=insert.method, body=insert.body, headers=headers)
            if resp.status == 200 and "location" in resp:
                return resp["location"]
            if resp.status < 300:
                raise ProviderError(
                    PROVIDER, "INVALID_RESPONSE", f"no session URI (HTTP {resp.status}, no Location header)", status=resp.status
                )
            raise ErrorReply(resp, content)

        return self.retry.run(create, "creating the upload session", retry=False)

    def _query_session(self, http: Any, session_uri: str, size: int) -> SessionState:
        """Ask the server how much of the session it has: 308+Range, 200/201 done, 404/410 gone."""

        def query() -> SessionState:
            resp, content = http.request(
                session_uri, "PUT", body=b"", headers={"Content-Range": f"bytes */{size}", "Content-Length": "0"}
            )
            if resp.status in (200, 201):
                try:
                    return SessionState(resource=json.loads(content))
                except ValueError:
                    raise ProviderError(
                        PROVIDER, "INVALID_RESPONSE", "the finished session's reply is not JSON", status=resp.status
                    ) from None
            if resp.status == 308:
                offset = 0
                if "range" in resp:
                    offset = int(resp["range"].rsplit("-", 1)[1]) + 1
                return SessionState(offset=offset)
            if resp.status in SESSION_GONE:
                return SessionState(gone=True)
            raise ErrorReply(resp, content)

        return self.retry.run(query, "querying the upload session")

    def _send_chunks(self, insert: HttpRequest) -> dict[str, Any]:
        """``next_chunk()`` until done; 5xx / connection errors resume the same session.

        After a failed chunk googleapiclient marks the request as in error, and its next
        ``next_chunk()`` first asks the session how many bytes arrived (``bytes */size``) and
        continues from there. The retry budget is per stall: it is reset whenever the server
        acknowledges more bytes.
        """

        def next_chunk() -> tuple[Any, Any]:
            try:
                return insert.next_chunk(num_retries=0)
            except HttpError as exc:
                if exc.resp.status in SESSION_GONE:
                    raise SessionGone() from None
                raise
            except TRANSPORT_ERRORS as exc:
                if is_transport(exc):
                    insert._in_error_state = True  # make sure the next call asks the session first
                raise

        backoff = self.retry.backoff()
        acknowledged = insert.resumable_progress
        while True:
            progress, resource = self.retry.run(next_chunk, "sending the video", backoff=backoff)
            if resource is not None:
                return video_resource(resource)
            if insert.resumable_progress > acknowledged:
                acknowledged = insert.resumable_progress
                backoff.reset()
            if progress is not None:
                log.debug("uploaded %d of %d bytes", progress.resumable_progress, progress.total_size or 0)
