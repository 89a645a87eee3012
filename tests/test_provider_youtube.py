"""YouTube publisher against a fake YouTube Data API v3 + OAuth server on 127.0.0.1.

Real client code end to end: google-auth refreshes through the fake ``/token``,
google-api-python-client builds the requests from the (rewritten) discovery document and
httplib2 sends them. The video is a real MP4 made with ffmpeg, uploaded in 256 KiB chunks.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import stat
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs

import pytest

from tests.fakes.youtube_server import FakeYouTube
from ytmaker.core.media_types import Publication
from ytmaker.providers.base import PublishRequest
from ytmaker.providers.errors import ProviderError
from ytmaker.providers.youtube import YouTubePublisher
from ytmaker.core.script import VideoMetadata

REPO = Path(__file__).resolve().parent.parent
CHUNK = 256 * 1024
FAST_RETRIES = (0.01, 0.01, 0.01)


# ---------------------------------------------------------------------- fixtures & helpers


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> dict:
    """A real ~2.4 MB MP4 (noise keeps x264 at the target bitrate) and a JPEG thumbnail."""
    folder = tmp_path_factory.mktemp("youtube-media")
    video, thumb = folder / "final_video.mp4", folder / "thumbnail.jpg"
    subprocess.run(
        ["ffmpeg", "-y", "-loglevel", "error",
         "-f", "lavfi", "-i", "testsrc2=s=640x360:r=30,noise=alls=30:allf=t+u",
         "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
         "-t", "3", "-c:v", "libx264", "-preset", "ultrafast", "-b:v", "6M", "-maxrate", "6M", "-bufsize", "3M",
         "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "96k", "-shortest", "-movflags", "+faststart", str(video)],
        check=True,
    )
    subprocess.run(["ffmpeg", "-y", "-loglevel", "error", "-i", str(video), "-frames:v", "1", "-q:v", "3", str(thumb)], check=True)
    data = video.read_bytes()
    assert 1_500_000 < len(data) < 4_000_000 and len(data) % CHUNK, len(data)
    return {"video": video, "thumb": thumb, "bytes": data, "sha": hashlib.sha256(data).hexdigest(), "size": len(data)}


@pytest.fixture
def fake():
    with FakeYouTube() as server:
        yield server


def publisher(fake: FakeYouTube, tmp_path: Path, *, expired: bool = True, **kwargs) -> YouTubePublisher:
    """A publisher on the fake; the token file is made once per test and shared afterwards."""
    token_file = tmp_path / "youtube_token.json"
    if not token_file.exists():
        fake.write_token_file(token_file, expired=expired)
    kwargs.setdefault("retry_delays", FAST_RETRIES)
    return YouTubePublisher(
        token_file=token_file,
        base_url=fake.base_url,
        chunk_size=kwargs.pop("chunk_size", CHUNK),
        timeout=kwargs.pop("timeout", 10),
        **kwargs,
    )


def record_file(tmp_path: Path, project_id: int = 7) -> Path:
    """Where the pipeline keeps a project's upload record (tmp_path stands for the data folder)."""
    return tmp_path / "projects" / str(project_id) / "output" / "youtube_upload.json"


def publish_request(media: dict, tmp_path: Path, project_id: int = 7, **overrides) -> PublishRequest:
    values = dict(
        project_id=project_id,
        upload_record_path=str(record_file(tmp_path, project_id)),
        video_path=str(media["video"]),
        video_sha256=media["sha"],
        thumbnail_path=str(media["thumb"]),
        metadata=VideoMetadata(
            title="Honeybees <in> 3 minutes",
            description="How a colony works.\nMade with ytmaker.",
            tags=["bees", "science", "nature"],
        ),
        language="en",
        privacy="public",
        publish_at=None,
    )
    values.update(overrides)
    return PublishRequest(**values)


def read_record(tmp_path: Path, project_id: int = 7) -> dict:
    return json.loads(record_file(tmp_path, project_id).read_text())


def chunk_starts(fake: FakeYouTube) -> list[int]:
    return [int(r.headers["content-range"].split()[1].split("-")[0]) for r in fake.requests_for("chunk")]


def secrets_of(fake: FakeYouTube, token_file: Path | None = None) -> list[str]:
    values = [fake.refresh_token, fake.client_secret, *fake.issued_tokens]
    if token_file is not None and token_file.exists():
        values.append(json.loads(token_file.read_text())["token"])
    return values


def assert_no_secrets(exc: BaseException, secrets: list[str]) -> None:
    texts = []
    current: BaseException | None = exc
    while current is not None:  # the exception and every cause/context shown with it
        texts += [str(current), repr(current), json.dumps(getattr(current, "details", {}), default=str)]
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    blob = "\n".join(texts)
    for secret in secrets:
        assert secret not in blob, f"a secret leaked into the error: {blob}"


# ---------------------------------------------------------------------- the happy path


def test_upload_in_chunks_with_refresh_metadata_thumbnail_and_base_url(fake, media, tmp_path):
    pub = publisher(fake, tmp_path, expired=True)
    request = publish_request(media, tmp_path, publish_at="2031-05-01T09:30:00+08:00")

    result = pub.publish(request)

    video = fake.only_video()
    assert isinstance(result, Publication)
    assert result.video_id == video.id
    assert result.video_url == f"https://www.youtube.com/watch?v={video.id}"
    assert result.video_status == "uploaded"

    # The bytes the server stored are the file's, sent as 256 KiB chunks of one session.
    assert fake.inserts == 1 and fake.completed == 1
    assert video.data == media["bytes"]
    n_chunks = math.ceil(media["size"] / CHUNK)
    assert chunk_starts(fake) == [i * CHUNK for i in range(n_chunks)]
    assert {r.query["upload_id"][0] for r in fake.requests_for("chunk")} == {video.upload_id}

    # Session creation: resumable, to the overridden base URL, with the metadata.
    (insert,) = fake.requests_for("insert")
    assert insert.path == "/upload/youtube/v3/videos"
    assert insert.query["uploadType"] == ["resumable"]
    assert insert.query["part"] == ["snippet,status"]
    assert insert.headers["x-upload-content-length"] == str(media["size"])
    assert insert.headers["x-upload-content-type"] == "video/mp4"
    assert insert.json["snippet"] == {
        "title": "Honeybees ‹in› 3 minutes",  # YouTube refuses < and > in titles
        "description": "How a colony works.\nMade with ytmaker.",
        "tags": ["bees", "science", "nature"],
        "categoryId": "27",
        "defaultLanguage": "en",
    }
    assert insert.json["status"] == {
        "privacyStatus": "private",  # scheduled videos must be private until publishAt
        "publishAt": "2031-05-01T01:30:00.000Z",
        "selfDeclaredMadeForKids": False,
        "containsSyntheticMedia": True,
    }
    assert video.resource["status"]["privacyStatus"] == "private"
    assert all(r.op is not None for r in fake.requests), "every request hit a known endpoint of the fake"
    record = read_record(tmp_path)
    assert record["session_uri"].startswith(fake.base_url) and "googleapis.com" not in record["session_uri"]

    # The expired access token was refreshed through the fake /token and written back (0600).
    (token_call,) = fake.requests_for("token")
    form = parse_qs(token_call.body.decode())
    assert form["grant_type"] == ["refresh_token"] and form["refresh_token"] == [fake.refresh_token]
    saved = json.loads(pub.token_file.read_text())
    assert saved["token"] == fake.issued_tokens[0]
    assert saved["refresh_token"] == fake.refresh_token and saved["token_uri"] == fake.token_uri
    assert stat.S_IMODE(pub.token_file.stat().st_mode) == 0o600
    assert insert.headers["authorization"] == f"Bearer {fake.issued_tokens[0]}"

    # Thumbnail set on the new video.
    (thumb_call,) = fake.requests_for("thumbnail")
    assert thumb_call.query["videoId"] == [video.id]
    assert thumb_call.headers["content-type"] == "image/jpeg"
    assert fake.thumbnails[video.id] == media["thumb"].read_bytes()

    # The record: hash, session, start, then the id and the thumbnail.
    assert record["video_sha256"] == media["sha"]
    assert record["video_id"] == video.id
    assert record["started_at"] and record["thumbnail_set"] is True
    assert stat.S_IMODE(record_file(tmp_path).stat().st_mode) == 0o600


def test_unscheduled_upload_keeps_privacy_and_a_valid_token_is_not_refreshed(fake, media, tmp_path):
    pub = publisher(fake, tmp_path, expired=False, category_id="28")
    result = pub.publish(publish_request(media, tmp_path, privacy="unlisted", language="zh-TW"))

    (insert,) = fake.requests_for("insert")
    assert insert.json["status"] == {
        "privacyStatus": "unlisted",
        "selfDeclaredMadeForKids": False,
        "containsSyntheticMedia": True,
    }
    assert insert.json["snippet"]["categoryId"] == "28"
    assert insert.json["snippet"]["defaultLanguage"] == "zh-TW"
    assert fake.requests_for("token") == []
    assert result.video_id == fake.only_video().id


def test_metadata_is_fitted_to_youtube_limits(fake, media, tmp_path):
    description = "台北一零一。" * 500  # 3000 characters, 9000 UTF-8 bytes: YouTube counts bytes
    tags = ["bees", "bees", "honey, wax", "<b>", *[f"tag number {i}" for i in range(60)]]
    publisher(fake, tmp_path).publish(
        publish_request(media, tmp_path, metadata=VideoMetadata(title="Bees", description=description, tags=tags))
    )
    snippet = fake.requests_for("insert")[0].json["snippet"]
    assert len(snippet["description"].encode("utf-8")) <= 5000
    assert description.startswith(snippet["description"])
    assert snippet["tags"][:3] == ["bees", "honey  wax", "‹b›"]
    assert sum(len(t) + (2 if " " in t else 0) for t in snippet["tags"]) + len(snippet["tags"]) - 1 <= 500


def test_token_uri_from_the_file_is_trusted_only_for_google_or_the_api_host(tmp_path):
    pub = YouTubePublisher(tmp_path / "t.json", "http://127.0.0.1:8080/")
    assert pub.token.trusted_token_uri("https://oauth2.googleapis.com/token")
    assert pub.token.trusted_token_uri("http://127.0.0.1:8080/token")
    assert not pub.token.trusted_token_uri("http://127.0.0.1:9999/token")
    assert not pub.token.trusted_token_uri("https://evil.example/token")
    assert not pub.token.trusted_token_uri("http://oauth2.googleapis.com/token")  # not over plain HTTP


# ---------------------------------------------------------------------- failures while sending


def test_503_on_chunk_3_resumes_the_same_session(fake, media, tmp_path):
    fake.fail("chunk", 503, nth=3)
    result = publisher(fake, tmp_path).publish(publish_request(media, tmp_path))

    assert fake.inserts == 1 and fake.completed == 1
    assert fake.only_video().data == media["bytes"]
    assert result.video_id == fake.only_video().id
    # The failed chunk (the 3rd, at 512 KiB) is asked about, then sent again: nothing restarts.
    starts = chunk_starts(fake)
    assert starts[:4] == [0, CHUNK, 2 * CHUNK, 2 * CHUNK]
    assert len(fake.requests_for("status")) == 1
    assert [r.status for r in fake.requests_for("chunk")][2] == 503


def test_connection_dropped_mid_chunk_resumes_the_same_session(fake, media, tmp_path):
    fake.drop("chunk", nth=2, times=2)  # twice: also defeats httplib2's one silent re-send
    result = publisher(fake, tmp_path).publish(publish_request(media, tmp_path))

    assert fake.inserts == 1 and fake.completed == 1
    assert fake.only_video().data == media["bytes"]
    assert result.video_id == fake.only_video().id
    assert len(fake.requests_for("status")) >= 1  # the session was asked where to resume
    assert chunk_starts(fake)[0] == 0 and chunk_starts(fake).count(0) == 1


def test_persistent_5xx_gives_up_boundedly_and_the_next_publish_resumes(fake, media, tmp_path):
    fake.fail("chunk", 503, nth=2, times=None)
    with pytest.raises(ProviderError) as info:
        publisher(fake, tmp_path).publish(publish_request(media, tmp_path))
    assert info.value.code == "YOUTUBE_SERVER_ERROR" and info.value.retryable and info.value.status == 503
    # 1 good chunk, then the failing one: first try + one per retry delay, each retry asking first.
    assert len(fake.requests_for("chunk")) == 1 + 1 + len(FAST_RETRIES)
    assert len(fake.requests_for("status")) == len(FAST_RETRIES)
    assert fake.inserts == 1 and fake.completed == 0
    record = read_record(tmp_path)
    assert record["session_uri"] and not record.get("video_id")

    fake.clear_faults()
    result = publisher(fake, tmp_path).publish(publish_request(media, tmp_path))
    assert fake.inserts == 1 and fake.completed == 1
    assert fake.only_video().data == media["bytes"] and result.video_id == fake.only_video().id


def test_token_refused_mid_upload_is_an_auth_error_and_the_session_survives(fake, media, tmp_path):
    fake.fail("chunk", 401, nth=3, times=None)  # e.g. access revoked during the upload
    with pytest.raises(ProviderError) as info:
        publisher(fake, tmp_path).publish(publish_request(media, tmp_path))
    assert info.value.code == "YOUTUBE_AUTH" and not info.value.retryable
    assert len(fake.requests_for("token")) == 3  # the first refresh + google-auth's two on 401
    assert_no_secrets(info.value, secrets_of(fake, tmp_path / "youtube_token.json"))
    assert read_record(tmp_path)["session_uri"]

    fake.clear_faults()  # re-authorised: the same session continues
    result = publisher(fake, tmp_path).publish(publish_request(media, tmp_path))
    assert fake.inserts == 1 and fake.only_video().data == media["bytes"]
    assert result.video_id == fake.only_video().id


def test_interrupted_upload_is_resumed_by_the_next_publish(fake, media, tmp_path):
    fake.drop("chunk", nth=2, times=None)  # chunk 2 never gets through: the client gives up
    with pytest.raises(ProviderError) as info:
        publisher(fake, tmp_path).publish(publish_request(media, tmp_path))
    assert info.value.code == "YOUTUBE_CONNECTION" and info.value.retryable
    assert_no_secrets(info.value, secrets_of(fake, tmp_path / "youtube_token.json"))
    assert fake.inserts == 1 and fake.completed == 0
    record = read_record(tmp_path)
    assert record["video_sha256"] == media["sha"] and record["session_uri"] and not record.get("video_id")
    (session,) = fake.sessions.values()
    assert len(session.data) == CHUNK  # the server kept chunk 1
    chunks_before = len(fake.requests_for("chunk"))

    fake.clear_faults()
    result = publisher(fake, tmp_path).publish(publish_request(media, tmp_path))  # a fresh instance: the record alone

    assert fake.inserts == 1 and fake.completed == 1
    assert fake.only_video().data == media["bytes"]
    assert result.video_id == fake.only_video().id
    resumed = chunk_starts(fake)[chunks_before:]
    assert resumed[0] == CHUNK  # continued after chunk 1, not from the start
    assert read_record(tmp_path)["video_id"] == result.video_id


def test_crash_after_upload_before_the_caller_stored_the_result(fake, media, tmp_path):
    first = publisher(fake, tmp_path).publish(publish_request(media, tmp_path))
    requests_before = len(fake.requests)

    # The caller died before storing ``first``; a new process publishes the same video again.
    second = publisher(fake, tmp_path).publish(publish_request(media, tmp_path))

    assert second == first
    assert fake.inserts == 1 and fake.completed == 1
    assert len(fake.requests) == requests_before  # the record says it all: not even a token refresh

    # The thumbnail changed since: only the thumbnail is set again, the video stays.
    new_thumb = tmp_path / "thumbnail_v2.jpg"
    new_thumb.write_bytes(media["thumb"].read_bytes() + b"\0")
    third = publisher(fake, tmp_path).publish(publish_request(media, tmp_path, thumbnail_path=str(new_thumb)))
    assert third == first and fake.inserts == 1
    assert [r.op for r in fake.requests[requests_before:]] == ["thumbnail"]
    assert fake.thumbnails[first.video_id] == new_thumb.read_bytes()


def test_reply_to_the_last_chunk_lost_then_the_next_publish_finds_the_video(fake, media, tmp_path):
    n_chunks = math.ceil(media["size"] / CHUNK)
    # The server stores the last chunk and creates the video, but no reply ever arrives.
    fake.drop("chunk", nth=n_chunks, times=None, after=True)
    fake.drop("status", times=None, after=True)
    with pytest.raises(ProviderError) as info:
        publisher(fake, tmp_path).publish(publish_request(media, tmp_path))
    assert info.value.retryable
    assert fake.completed == 1  # the video exists on the server...
    assert not read_record(tmp_path).get("video_id")  # ...but the client never learnt its id

    fake.clear_faults()
    result = publisher(fake, tmp_path).publish(publish_request(media, tmp_path))

    assert fake.inserts == 1 and fake.completed == 1  # no second video
    assert result.video_id == fake.only_video().id
    assert fake.requests_for("status")[-1].status == 200
    assert fake.thumbnails[result.video_id] == media["thumb"].read_bytes()


def test_expired_session_is_the_only_case_of_a_second_insert(fake, media, tmp_path):
    fake.drop("chunk", nth=2, times=None)
    with pytest.raises(ProviderError):
        publisher(fake, tmp_path).publish(publish_request(media, tmp_path))
    fake.clear_faults()
    fake.expire_sessions()  # the server forgot the session: that upload never completed
    queries_before = len(fake.requests_for("status"))

    result = publisher(fake, tmp_path).publish(publish_request(media, tmp_path))

    assert fake.inserts == 2 and fake.completed == 1
    assert fake.only_video().data == media["bytes"] and result.video_id == fake.only_video().id
    assert fake.requests_for("status")[queries_before].status == 404
    record = read_record(tmp_path)
    assert len(record["lost_sessions"]) == 1 and record["video_id"] == result.video_id


def test_a_changed_video_is_a_new_upload_with_a_new_record(fake, media, tmp_path):
    first = publisher(fake, tmp_path).publish(publish_request(media, tmp_path))
    changed = tmp_path / "final_video_v2.mp4"
    changed.write_bytes(media["bytes"] + b"\0" * 1000)
    sha = hashlib.sha256(changed.read_bytes()).hexdigest()

    second = publisher(fake, tmp_path).publish(publish_request(media, tmp_path, video_path=str(changed), video_sha256=sha))

    assert second.video_id != first.video_id
    assert fake.inserts == 2 and fake.completed == 2
    assert fake.videos[second.video_id].data == changed.read_bytes()
    record = read_record(tmp_path)
    assert record["video_sha256"] == sha and record["video_id"] == second.video_id
    assert record["previous"][-1]["video_id"] == first.video_id


# ---------------------------------------------------------------------- errors


def test_401_is_an_auth_error_that_names_the_token_file_and_leaks_no_token(media, tmp_path):
    with FakeYouTube(echo_token_in_errors=True) as fake:
        fake.reject_all_tokens = True
        with pytest.raises(ProviderError) as info:
            publisher(fake, tmp_path).publish(publish_request(media, tmp_path))
        error = info.value
        assert error.code == "YOUTUBE_AUTH" and not error.retryable and error.status == 401
        assert "YOUTUBE_TOKEN_FILE" in error.message
        assert fake.inserts == 0
        assert len(fake.issued_tokens) >= 2  # google-auth refreshed on the 401 before giving up
        assert_no_secrets(error, secrets_of(fake, tmp_path / "youtube_token.json"))


def test_a_revoked_refresh_token_is_an_auth_error_that_leaks_nothing(media, tmp_path):
    with FakeYouTube(echo_token_in_errors=True) as fake:
        fake.refresh_revoked = True
        with pytest.raises(ProviderError) as info:
            publisher(fake, tmp_path, expired=True).publish(publish_request(media, tmp_path))
        assert info.value.code == "YOUTUBE_AUTH" and not info.value.retryable
        assert "invalid_grant" in info.value.message
        assert fake.requests_for("insert") == []
        assert_no_secrets(info.value, secrets_of(fake, tmp_path / "youtube_token.json"))


@pytest.mark.parametrize(
    ("status", "reason", "code", "retryable"),
    [
        (403, "quotaExceeded", "YOUTUBE_QUOTA_EXCEEDED", False),
        (403, "uploadLimitExceeded", "YOUTUBE_QUOTA_EXCEEDED", False),
        (400, "uploadLimitExceeded", "YOUTUBE_QUOTA_EXCEEDED", False),
        (403, "forbidden", "YOUTUBE_FORBIDDEN", False),
        (400, "invalidTitle", "YOUTUBE_BAD_REQUEST", False),
        (429, "rateLimitExceeded", "YOUTUBE_RATE_LIMITED", True),
    ],
)
def test_insert_refusals_map_to_provider_errors(fake, media, tmp_path, status, reason, code, retryable):
    fake.fail("insert", status, reason=reason, message=f"refused: {reason}", headers={"Retry-After": "7"})
    with pytest.raises(ProviderError) as info:
        publisher(fake, tmp_path).publish(publish_request(media, tmp_path))
    error = info.value
    assert (error.code, error.retryable, error.status) == (code, retryable, status)
    assert error.details["reason"] == reason and reason in error.message
    if status == 429:
        assert error.retry_after == 7
    assert fake.inserts == 0 and fake.requests_for("chunk") == []
    assert_no_secrets(error, secrets_of(fake, tmp_path / "youtube_token.json"))


def test_500_on_session_creation_is_retryable_and_a_retry_uploads_once(fake, media, tmp_path):
    fake.fail("insert", 500)
    with pytest.raises(ProviderError) as info:
        publisher(fake, tmp_path).publish(publish_request(media, tmp_path))
    assert info.value.code == "YOUTUBE_SERVER_ERROR" and info.value.retryable and info.value.status == 500
    assert fake.requests_for("chunk") == []

    result = publisher(fake, tmp_path).publish(publish_request(media, tmp_path))  # what a Prefect retry does
    assert fake.inserts == 1 and fake.completed == 1 and result.video_id == fake.only_video().id


def test_a_failed_thumbnail_is_retried_without_a_second_upload(fake, media, tmp_path):
    fake.fail("thumbnail", 403, reason="forbidden", message="The user may not set custom thumbnails.")
    with pytest.raises(ProviderError) as info:
        publisher(fake, tmp_path).publish(publish_request(media, tmp_path))
    assert info.value.code == "YOUTUBE_FORBIDDEN"
    record = read_record(tmp_path)
    assert record["video_id"] == fake.only_video().id and not record.get("thumbnail_set")

    result = publisher(fake, tmp_path).publish(publish_request(media, tmp_path))
    assert fake.inserts == 1 and fake.completed == 1
    assert fake.thumbnails[result.video_id] == media["thumb"].read_bytes()
    assert read_record(tmp_path)["thumbnail_set"] is True


# ---------------------------------------------------------------------- construction, registry, CLI


def test_chunk_size_must_be_a_multiple_of_256_kib(tmp_path):
    with pytest.raises(ValueError, match="256 KiB"):
        YouTubePublisher(tmp_path / "t.json", "http://127.0.0.1:1/", chunk_size=300 * 1024)


def test_from_settings_registry_and_the_record_where_the_request_says(fake, media, tmp_path, env, monkeypatch):
    from ytmaker.providers import _factories, available
    from ytmaker.core.settings import reload_settings

    # The registered factory is from_settings. (get_provider would also consult the Prefect
    # credentials block for unset secrets, which starts a Prefect server: not needed here.)
    assert "youtube" in available("publish")
    factory = _factories[("publish", "youtube")]
    assert factory == YouTubePublisher.from_settings

    monkeypatch.delenv("YOUTUBE_TOKEN_FILE", raising=False)
    settings = reload_settings()
    with pytest.raises(ProviderError) as info:
        YouTubePublisher.from_settings(settings)
    assert info.value.code == "YOUTUBE_AUTH" and "YOUTUBE_TOKEN_FILE is not set or missing" in info.value.message

    env(YOUTUBE_TOKEN_FILE=str(tmp_path / "missing.json"))
    with pytest.raises(ProviderError) as info:
        factory(reload_settings())
    assert info.value.code == "YOUTUBE_AUTH"

    token_file = fake.write_token_file(tmp_path / "token.json")
    env(YOUTUBE_TOKEN_FILE=str(token_file), YOUTUBE_BASE_URL=fake.base_url, YTMAKER_PUBLISH_PROVIDER="youtube")
    settings = reload_settings()
    assert settings.publish_provider == "youtube"
    provider = factory(settings)
    # The pipeline names the record (tasks/publish.py, from the project's paths); the
    # provider derives no project path itself.
    record = settings.projects_dir / "4242" / "output" / "youtube_upload.json"
    result = provider.publish(publish_request(media, tmp_path, project_id=4242, upload_record_path=str(record)))

    assert result.video_id == fake.only_video().id
    assert json.loads(record.read_text())["video_id"] == result.video_id


def test_a_request_without_an_upload_record_is_refused(fake, media, tmp_path):
    with pytest.raises(ProviderError) as info:
        publisher(fake, tmp_path).publish(publish_request(media, tmp_path, upload_record_path=None))
    assert info.value.code == "YOUTUBE_BAD_REQUEST" and "upload_record_path" in info.value.message
    assert fake.requests == []


def test_token_script_creates_and_checks_a_token_file(fake, tmp_path):
    out = tmp_path / "secrets" / "youtube_token.json"
    env = {
        **os.environ,
        "YOUTUBE_CLIENT_ID": fake.client_id,
        "YOUTUBE_CLIENT_SECRET": fake.client_secret,
        "YOUTUBE_REFRESH_TOKEN": fake.refresh_token,
    }
    script = str(REPO / "scripts" / "youtube_token.py")
    created = subprocess.run(
        [sys.executable, script, "create", "--out", str(out), "--token-uri", fake.token_uri],
        env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60,
    )
    assert created.returncode == 0, created.stderr
    info = json.loads(out.read_text())
    assert info["type"] == "authorized_user" and info["refresh_token"] == fake.refresh_token
    assert stat.S_IMODE(out.stat().st_mode) == 0o600

    checked = subprocess.run(
        [sys.executable, script, "check", "--token-file", str(out), "--base-url", fake.base_url],
        capture_output=True, text=True, timeout=60,
    )
    assert checked.returncode == 0, checked.stderr
    assert "Fake Channel" in checked.stdout and fake.channel_id in checked.stdout
    assert json.loads(out.read_text())["token"] == fake.issued_tokens[0]  # refreshed and saved
    assert fake.requests_for("channels")[0].query["mine"] == ["true"]

    fake.refresh_revoked = True
    out.write_text(json.dumps({**info, "token": "stale", "expiry": "2000-01-01T00:00:00Z"}))
    failed = subprocess.run(
        [sys.executable, script, "check", "--token-file", str(out), "--base-url", fake.base_url],
        capture_output=True, text=True, timeout=60,
    )
    assert failed.returncode == 2 and "YOUTUBE_AUTH" in failed.stderr
    assert fake.refresh_token not in failed.stderr + failed.stdout
