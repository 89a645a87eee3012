"""A fake YouTube Data API v3 + Google OAuth token endpoint on 127.0.0.1, for tests.

It speaks the wire protocol the real client uses (google-api-python-client over httplib2):

* ``POST /token`` — OAuth refresh (form ``grant_type=refresh_token``) → ``{"access_token",
  "expires_in", "token_type", "scope"}``; a wrong/revoked refresh token → 400 ``invalid_grant``.
* ``POST /upload/youtube/v3/videos?uploadType=resumable&part=...`` — creates a resumable
  session (checks the Bearer token: 401 if unknown), stores the snippet/status JSON and
  answers 200 with a ``Location`` session URI (``...&upload_id=...``).
* ``PUT <session uri>`` with ``Content-Range: bytes a-b/total`` — stores the chunk; 308 with
  ``Range: bytes=0-N`` until complete, then 200 with the video resource
  ``{id, snippet, status{uploadStatus: "uploaded", privacyStatus, ...}}``.
  ``Content-Range: bytes */total`` (empty body) is a status query: 308 (+ ``Range`` when the
  server has bytes) or 200 with the video when finished; an unknown/expired session → 404.
* ``POST /upload/youtube/v3/thumbnails/set?videoId=...`` — stores the image.
* ``GET /youtube/v3/channels?mine=true`` — the channel of the token.

Errors use Google's format ``{"error": {"code", "message", "errors": [{"reason", ...}]}}``.
Every request is recorded; the uploaded bytes of each session and video are kept so tests can
compare them with the file. Faults are scripted per operation (``token``, ``insert``,
``chunk``, ``status``, ``thumbnail``, ``channels``) by ordinal:

    with FakeYouTube() as yt:
        yt.fail("chunk", 503, nth=3)               # the 3rd chunk PUT answers 503, once
        yt.drop("chunk", nth=2, times=None)        # every chunk PUT from the 2nd on: hang up mid-body
        yt.drop("chunk", nth=5, after=True)        # store the 5th chunk, then hang up (reply lost)
        yt.fail("insert", 403, reason="quotaExceeded")
        yt.enqueue(500, method="GET", path="/youtube/v3/channels")   # by method and path (FakeServer.enqueue)
        token_file = yt.write_token_file(tmp_path / "token.json")   # an expired access token
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.fakes.http_base import FakeServer, QuietHandler

UPLOAD_VIDEOS = "/upload/youtube/v3/videos"
UPLOAD_THUMBNAILS = "/upload/youtube/v3/thumbnails/set"
CHANNELS = "/youtube/v3/channels"
TOKEN = "/token"
OPS = ("token", "insert", "chunk", "status", "thumbnail", "channels")

_REASON_DOMAINS = {
    "quotaExceeded": "youtube.quota",
    "uploadLimitExceeded": "youtube.video",
    "rateLimitExceeded": "youtube.quota",
    "forbidden": "youtube.video",
    "authError": "global",
    "invalidTitle": "youtube.video",
    "invalidPublishAt": "youtube.video",
    "badRequest": "global",
    "backendError": "global",
    "notFound": "global",
}
_STATUS_NAMES = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
                 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 502: "BAD_GATEWAY", 503: "UNAVAILABLE",
                 504: "DEADLINE_EXCEEDED"}
_DEFAULT_REASONS = {400: "badRequest", 401: "authError", 403: "forbidden", 404: "notFound", 429: "rateLimitExceeded"}


def google_error(status: int, message: str, reason: str | None = None) -> dict[str, Any]:
    """Google's API error body: {"error": {"code", "message", "errors": [{"message", "domain", "reason"}], "status"}}."""
    reason = reason or _DEFAULT_REASONS.get(status, "backendError")
    return {
        "error": {
            "code": status,
            "message": message,
            "errors": [{"message": message, "domain": _REASON_DOMAINS.get(reason, "global"), "reason": reason}],
            "status": _STATUS_NAMES.get(status, "UNKNOWN"),
        }
    }


@dataclass
class Fault:
    op: str
    status: int | None = None  # answer with this status and a Google error body
    reason: str | None = None
    message: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False  # hang up without answering (mid-body for chunks)
    after: bool = False  # with drop: process the request first, then hang up (the reply is lost)
    nth: int = 1  # the first ordinal of this operation it applies to (1-based)
    times: int | None = 1  # how many times; None = every time from ``nth`` on
    used: int = 0

    def matches(self, op: str, ordinal: int) -> bool:
        return self.op == op and ordinal >= self.nth and (self.times is None or self.used < self.times)


@dataclass
class RecordedRequest:
    op: str | None
    method: str
    path: str
    raw_path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: bytes
    status: int | None = None  # what the fake answered (None: hung up)

    @property
    def json(self) -> Any:
        try:
            return json.loads(self.body) if self.body else None
        except ValueError:
            return None


@dataclass
class UploadSession:
    upload_id: str
    part: str
    metadata: dict[str, Any]
    size: int | None
    content_type: str | None
    data: bytearray = field(default_factory=bytearray)
    video_id: str | None = None
    expired: bool = False


@dataclass
class Video:
    id: str
    resource: dict[str, Any]
    data: bytes
    upload_id: str


class FakeYouTube(FakeServer):
    name = "fake-youtube"

    def __init__(
        self,
        *,
        client_id: str = "fake-client-id.apps.googleusercontent.com",
        client_secret: str = "fake-client-secret-GOCSPX-0123456789",
        refresh_token: str = "1//fake-refresh-token-0123456789abcdef",
        channel_title: str = "Fake Channel",
        echo_token_in_errors: bool = False,
    ):
        self.client_id = client_id
        self.client_secret = client_secret
        self.refresh_token = refresh_token
        self.channel_title = channel_title
        self.channel_id = "UC" + secrets.token_hex(11)
        self.echo_token_in_errors = echo_token_in_errors  # an indiscreet server: error messages repeat the token
        self.reject_all_tokens = False  # every API call answers 401 (a token without the scope, a closed account...)
        self.refresh_revoked = False  # /token answers invalid_grant
        self.valid_tokens: set[str] = set()
        self.issued_tokens: list[str] = []
        self.requests: list[RecordedRequest] = []
        self.sessions: dict[str, UploadSession] = {}
        self.videos: dict[str, Video] = {}
        self.thumbnails: dict[str, bytes] = {}
        self.faults: list[Fault] = []
        self.counts: dict[str, int] = {op: 0 for op in OPS}
        self._lock = threading.RLock()
        self._init_server()

    # ------------------------------------------------------------------ lifecycle

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    @property
    def token_uri(self) -> str:
        return f"{self.base_url}token"

    # ------------------------------------------------------------------ set-up helpers

    def issue_token(self) -> str:
        with self._lock:
            token = f"ya29.fake-{len(self.issued_tokens) + 1}-{secrets.token_urlsafe(24)}"
            self.issued_tokens.append(token)
            self.valid_tokens.add(token)
            return token

    def write_token_file(self, path: Path, *, expired: bool = True) -> Path:
        """An authorized-user token file whose token_uri is this server.

        ``expired``: the stored access token is stale and past its expiry (the client must
        refresh through ``/token``); otherwise a valid token good for an hour."""
        if expired:
            token = "ya29.stale-" + secrets.token_urlsafe(16)
            expiry = datetime.now(timezone.utc) - timedelta(hours=1)
        else:
            token = self.issue_token()
            expiry = datetime.now(timezone.utc) + timedelta(hours=1)
        info = {
            "type": "authorized_user",
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "refresh_token": self.refresh_token,
            "token_uri": self.token_uri,
            "token": token,
            "expiry": expiry.replace(tzinfo=None).isoformat(timespec="seconds") + "Z",
        }
        path = Path(path)
        path.write_text(json.dumps(info, indent=2), encoding="utf-8")
        path.chmod(0o600)
        return path

    # ------------------------------------------------------------------ scripting

    def fail(self, op: str, status: int, *, reason: str | None = None, message: str | None = None,
             nth: int = 1, times: int | None = 1, headers: dict[str, str] | None = None) -> Fault:
        """Answer the ``nth`` (and following, ``times`` in all) ``op`` request(s) with ``status``."""
        return self._add(Fault(op, status=status, reason=reason, message=message, headers=dict(headers or {}),
                               nth=nth, times=times))

    def drop(self, op: str, *, nth: int = 1, times: int | None = 1, after: bool = False) -> Fault:
        """Hang up on the ``nth`` ``op`` request(s) (mid-body; or ``after`` processing it)."""
        return self._add(Fault(op, drop=True, after=after, nth=nth, times=times))

    def _add(self, fault: Fault) -> Fault:
        if fault.op not in OPS:
            raise ValueError(f"unknown operation {fault.op!r}; one of {OPS}")
        with self._lock:
            self.faults.append(fault)
        return fault

    def error_body(self, status: int) -> dict[str, Any]:
        """For ``enqueue`` (a scripted reply by method and path, ahead of the operation)."""
        return google_error(status, f"fake error {status}")

    def clear_faults(self) -> None:
        with self._lock:
            self.faults.clear()

    def expire_sessions(self) -> None:
        """Forget every open upload session (as after a week): status queries and PUTs get 404."""
        with self._lock:
            for session in self.sessions.values():
                session.expired = True

    # ------------------------------------------------------------------ inspection

    @property
    def inserts(self) -> int:
        """Sessions created (``videos.insert`` calls that the server accepted)."""
        return len(self.sessions)

    @property
    def completed(self) -> int:
        """Videos whose upload finished."""
        return len(self.videos)

    def requests_for(self, op: str) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.op == op]

    def only_video(self) -> Video:
        assert len(self.videos) == 1, f"expected exactly one video, the fake has {len(self.videos)}"
        return next(iter(self.videos.values()))

    # ------------------------------------------------------------------ internals

    def _fault_for(self, op: str) -> Fault | None:
        with self._lock:
            self.counts[op] += 1
            ordinal = self.counts[op]
            for fault in self.faults:
                if fault.matches(op, ordinal):
                    fault.used += 1
                    return fault
        return None

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def _new_video_id(self) -> str:
        while True:
            vid = base64.urlsafe_b64encode(secrets.token_bytes(9)).decode()[:11]
            if vid not in self.videos:
                return vid

    def _finish(self, session: UploadSession) -> Video:
        vid = self._new_video_id()
        snippet = dict(session.metadata.get("snippet") or {})
        status = dict(session.metadata.get("status") or {})
        now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        snippet.update(publishedAt=now, channelId=self.channel_id, channelTitle=self.channel_title,
                       liveBroadcastContent="none")
        status.setdefault("privacyStatus", "public")
        status.update(uploadStatus="uploaded", license="youtube", embeddable=True, publicStatsViewable=True)
        resource: dict[str, Any] = {"kind": "youtube#video", "etag": secrets.token_hex(8), "id": vid}
        parts = {p.strip() for p in session.part.split(",")}
        if "snippet" in parts:
            resource["snippet"] = snippet
        if "status" in parts:
            resource["status"] = status
        video = Video(vid, resource, bytes(session.data), session.upload_id)
        session.video_id = vid
        self.videos[vid] = video
        return video


class _Hangup(Exception):
    pass


class _Handler(QuietHandler):
    fake: FakeYouTube
    binary_type = "text/html; charset=UTF-8"  # what Google's upload endpoints send for an empty body

    # ------------------------------------------------------------------ plumbing

    def _send(self, recorded: RecordedRequest, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
        recorded.status = status
        self.send_body(status, body, headers)

    def _error(self, recorded: RecordedRequest, status: int, message: str, reason: str | None = None,
               headers: dict[str, str] | None = None) -> None:
        self._send(recorded, status, google_error(status, message, reason), headers)

    def _classify(self, method: str, path: str, query: dict[str, list[str]]) -> str | None:
        if method == "POST" and path == TOKEN:
            return "token"
        if path == UPLOAD_VIDEOS and method == "POST":
            return "insert"
        if path == UPLOAD_VIDEOS and method == "PUT":
            content_range = self.headers.get("Content-Range", "")
            return "status" if content_range.startswith("bytes */") else "chunk"
        if path == UPLOAD_THUMBNAILS and method == "POST":
            return "thumbnail"
        if path == CHANNELS and method == "GET":
            return "channels"
        return None

    def _handle(self) -> None:
        fake = self.fake
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        op = self._classify(self.command, parts.path, query)
        fault = fake._fault_for(op) if op else None
        length = int(self.headers.get("Content-Length") or 0)
        recorded = RecordedRequest(op, self.command, parts.path, self.path, query,
                                   {k.lower(): v for k, v in self.headers.items()}, b"")
        fake._record(recorded)
        fake.checkpoint(self.command, parts.path)
        if fault is not None and fault.drop and not fault.after:
            recorded.body = self.rfile.read(length // 2) if length else b""  # hang up mid-body
            self.close_connection = True
            return
        recorded.body = self.rfile.read(length) if length else b""
        if fault is not None and fault.status is not None:
            message = fault.message or f"fake {fault.status} for {op}"
            self._error(recorded, fault.status, message, fault.reason, fault.headers)
            return
        scripted = fake.take_reply(self.command, parts.path)
        if scripted is not None:
            if not (scripted.delay and fake._stopping.wait(scripted.delay)):
                self._send(recorded, scripted.status, scripted.body, scripted.headers)
            return
        try:
            if op is None:
                self._error(recorded, 404, f"no such endpoint: {self.command} {parts.path}", "notFound")
            else:
                getattr(self, f"_op_{op}")(recorded, dry=fault is not None and fault.after)
        except _Hangup:
            recorded.status = None
            self.close_connection = True

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def _reply(self, recorded: RecordedRequest, dry: bool, status: int, body: Any = None,
               headers: dict[str, str] | None = None) -> None:
        """Send the reply — unless the fault says the reply is lost (state already changed)."""
        if dry:
            raise _Hangup()
        self._send(recorded, status, body, headers)

    def _bearer_ok(self, recorded: RecordedRequest) -> bool:
        fake = self.fake
        auth = recorded.headers.get("authorization", "")
        token = auth[7:] if auth.startswith("Bearer ") else ""
        if token and token in fake.valid_tokens and not fake.reject_all_tokens:
            return True
        message = "Request had invalid authentication credentials. Expected OAuth 2 access token."
        if fake.echo_token_in_errors:
            message += f" Presented: {auth!r}; refresh token on file: {fake.refresh_token}"
        self._error(recorded, 401, message, "authError", {"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/"'})
        return False

    # ------------------------------------------------------------------ operations

    def _op_token(self, recorded: RecordedRequest, dry: bool) -> None:
        fake = self.fake
        form = {k: v[0] for k, v in parse_qs(recorded.body.decode("utf-8", "replace")).items()}
        if form.get("grant_type") != "refresh_token":
            self._send(recorded, 400, {"error": "unsupported_grant_type", "error_description": "Invalid grant_type"})
            return
        if form.get("client_id") != fake.client_id or form.get("client_secret") != fake.client_secret:
            self._send(recorded, 401, {"error": "invalid_client", "error_description": "The OAuth client was not found."})
            return
        if form.get("refresh_token") != fake.refresh_token or fake.refresh_revoked:
            description = "Token has been expired or revoked."
            if fake.echo_token_in_errors:
                description += f" ({form.get('refresh_token')})"
            self._send(recorded, 400, {"error": "invalid_grant", "error_description": description})
            return
        token = fake.issue_token()
        body = {"access_token": token, "expires_in": 3599, "token_type": "Bearer"}
        if form.get("scope"):
            body["scope"] = form["scope"]
        self._reply(recorded, dry, 200, body)

    def _op_insert(self, recorded: RecordedRequest, dry: bool) -> None:
        fake = self.fake
        if not self._bearer_ok(recorded):
            return
        if recorded.query.get("uploadType", [""])[0] != "resumable":
            self._error(recorded, 400, "this fake only speaks uploadType=resumable", "badRequest")
            return
        part = recorded.query.get("part", [""])[0]
        metadata = recorded.json
        if not part or not isinstance(metadata, dict):
            self._error(recorded, 400, "'part' and a JSON video resource are required", "badRequest")
            return
        snippet = metadata.get("snippet") or {}
        status = metadata.get("status") or {}
        if not str(snippet.get("title") or "").strip():
            self._error(recorded, 400, "The request metadata specifies an invalid or empty video title.", "invalidTitle")
            return
        if status.get("publishAt") and status.get("privacyStatus") != "private":
            self._error(recorded, 400, "publishAt requires privacyStatus private.", "invalidPublishAt")
            return
        length = recorded.headers.get("x-upload-content-length")
        with fake._lock:
            upload_id = "ADPycd" + secrets.token_urlsafe(24)
            fake.sessions[upload_id] = UploadSession(
                upload_id=upload_id,
                part=part,
                metadata=metadata,
                size=int(length) if length else None,
                content_type=recorded.headers.get("x-upload-content-type"),
            )
        location = f"{fake.base_url.rstrip('/')}{UPLOAD_VIDEOS}?uploadType=resumable&part={part}&upload_id={upload_id}"
        self._reply(recorded, dry, 200, b"", {"Location": location, "X-GUploader-UploadID": upload_id})

    def _session(self, recorded: RecordedRequest) -> UploadSession | None:
        upload_id = recorded.query.get("upload_id", [""])[0]
        session = self.fake.sessions.get(upload_id)
        if session is None or session.expired:
            self._error(recorded, 404, "The upload session does not exist or has expired.", "notFound")
            return None
        return session

    def _progress_reply(self, recorded: RecordedRequest, dry: bool, session: UploadSession) -> None:
        if session.video_id is not None:
            self._reply(recorded, dry, 200, self.fake.videos[session.video_id].resource)
            return
        headers = {"X-GUploader-UploadID": session.upload_id}
        if session.data:
            headers["Range"] = f"bytes=0-{len(session.data) - 1}"
        self._reply(recorded, dry, 308, b"", headers)

    def _op_status(self, recorded: RecordedRequest, dry: bool) -> None:
        with self.fake._lock:
            session = self._session(recorded)
        if session is not None:
            self._progress_reply(recorded, dry, session)

    def _op_chunk(self, recorded: RecordedRequest, dry: bool) -> None:
        fake = self.fake
        match = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+|\*)", recorded.headers.get("content-range", ""))
        with fake._lock:
            session = self._session(recorded)
            if session is None:
                return
            if session.video_id is not None:  # already finished: the same answer again
                self._progress_reply(recorded, dry, session)
                return
            if match is None:
                self._error(recorded, 400, "Invalid Content-Range header.", "badRequest")
                return
            first, last = int(match.group(1)), int(match.group(2))
            total = None if match.group(3) == "*" else int(match.group(3))
            data = recorded.body
            if len(data) != last - first + 1:
                self._error(recorded, 400, "Content-Range does not match the body length.", "badRequest")
                return
            if total is not None and session.size is not None and total != session.size:
                self._error(recorded, 400, "The total size differs from X-Upload-Content-Length.", "badRequest")
                return
            have = len(session.data)
            if first <= have:  # a chunk that overlaps what the server has: keep only the new bytes
                session.data.extend(data[have - first:])
            total = total if total is not None else session.size
            if total is not None and len(session.data) >= total:
                del session.data[total:]
                fake._finish(session)
            self._progress_reply(recorded, dry, session)

    def _op_thumbnail(self, recorded: RecordedRequest, dry: bool) -> None:
        fake = self.fake
        if not self._bearer_ok(recorded):
            return
        video_id = recorded.query.get("videoId", [""])[0]
        if video_id not in fake.videos:
            self._error(recorded, 404, f"The video {video_id!r} was not found.", "videoNotFound")
            return
        ctype = recorded.headers.get("content-type", "")
        if ctype not in ("image/jpeg", "image/png", "application/octet-stream") or not recorded.body:
            self._error(recorded, 400, "The thumbnail must be a JPEG or PNG image.", "invalidImage")
            return
        with fake._lock:
            fake.thumbnails[video_id] = recorded.body
        base = f"https://i.ytimg.com/vi/{video_id}"
        self._reply(recorded, dry, 200, {
            "kind": "youtube#thumbnailSetResponse",
            "etag": secrets.token_hex(8),
            "items": [{
                "default": {"url": f"{base}/default.jpg", "width": 120, "height": 90},
                "medium": {"url": f"{base}/mqdefault.jpg", "width": 320, "height": 180},
                "high": {"url": f"{base}/hqdefault.jpg", "width": 480, "height": 360},
            }],
        })

    def _op_channels(self, recorded: RecordedRequest, dry: bool) -> None:
        fake = self.fake
        if not self._bearer_ok(recorded):
            return
        if recorded.query.get("mine", [""])[0] != "true":
            self._error(recorded, 400, "this fake only answers mine=true", "badRequest")
            return
        self._reply(recorded, dry, 200, {
            "kind": "youtube#channelListResponse",
            "etag": secrets.token_hex(8),
            "pageInfo": {"totalResults": 1, "resultsPerPage": 5},
            "items": [{"kind": "youtube#channel", "etag": secrets.token_hex(8), "id": fake.channel_id,
                       "snippet": {"title": fake.channel_title, "description": ""}}],
        })


FakeYouTube.handler = _Handler
