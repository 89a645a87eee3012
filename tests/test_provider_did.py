"""DIDAvatarGenerator against a fake D-ID Talks API speaking the real wire format."""

from __future__ import annotations

import io
import math
import socket
import struct
import time
import wave
from pathlib import Path

import pytest
from PIL import Image

from tests.fakes.did_server import FakeDID
from ytmaker.media.ffmpeg import media_duration, probe, run_ffmpeg
from ytmaker.providers import get_provider
from ytmaker.providers.base import AvatarGenerator, AvatarRequest
from ytmaker.providers.did import DIDAvatarGenerator
from ytmaker.providers.errors import ProviderError
from ytmaker.core.settings import Settings, get_settings

KEY = "dXNlckBleGFtcGxlLmNvbQ:SECRETdid7731"
AUDIO_SECONDS = 2.0


@pytest.fixture(scope="module")
def audio(tmp_path_factory) -> Path:
    """A real 2 s WAV: a 220 Hz tone with a slow swell, 22.05 kHz mono 16-bit."""
    path = tmp_path_factory.mktemp("audio") / "intro.wav"
    rate = 22050
    frames = b"".join(
        struct.pack("<h", int(8000 * (0.5 + 0.5 * math.sin(i / rate * 3)) * math.sin(2 * math.pi * 220 * i / rate)))
        for i in range(int(rate * AUDIO_SECONDS))
    )
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(frames)
    return path


@pytest.fixture
def fake():
    with FakeDID(api_key=KEY) as server:
        yield server


def make_request(audio: Path, which: str = "intro") -> AvatarRequest:
    return AvatarRequest(project_id=3, which=which, text="Hello and welcome", language="en", audio_path=str(audio))


def client(fake: FakeDID, **overrides) -> DIDAvatarGenerator:
    options = {"api_key": KEY, "base_url": fake.url, "timeout": 5.0, "poll_interval": 0.05, "max_wait": 10.0}
    options.update(overrides)
    return DIDAvatarGenerator(**options)


def failure(fake: FakeDID, audio: Path, tmp_path: Path, **overrides) -> ProviderError:
    out = tmp_path / "avatar.mp4"
    with pytest.raises(ProviderError) as info:
        client(fake, **overrides).generate(make_request(audio), out)
    assert not out.exists(), "no output file after a failure"
    assert not list(tmp_path.glob(".avatar.*")), "no temp file left behind"
    err = info.value
    assert KEY not in str(err) and KEY not in repr(err.details)
    assert "SECRETdid7731" not in str(err)
    return err


def test_generate_uploads_creates_polls_and_downloads(fake, audio, tmp_path):
    gen = client(fake)
    assert isinstance(gen, AvatarGenerator)
    out = gen.generate(make_request(audio), tmp_path / "clips" / "intro.mp4")
    assert out == tmp_path / "clips" / "intro.mp4"

    # 1. the narration was uploaded as multipart field "audio", byte for byte
    [upload] = fake.paths("POST", "/audios")
    assert upload.headers["authorization"] == f"Basic {KEY}"
    assert upload.headers["content-type"].startswith("multipart/form-data")
    filename, content_type, data = upload.files["audio"]
    assert (filename, content_type, data) == ("intro.wav", "audio/wav", audio.read_bytes())
    audio_url = next(iter(fake.audios))

    # 2. a presenter portrait was uploaded (no DID_SOURCE_URL): a 512x512 PNG
    [image_upload] = fake.paths("POST", "/images")
    name, image_type, png = image_upload.files["image"]
    assert image_type == "image/png"
    with Image.open(io.BytesIO(png)) as portrait:
        assert (portrait.format, portrait.size) == ("PNG", (512, 512))
    image_url = next(iter(fake.images))

    # 3. the talk uses that audio and that picture, stitched
    [create] = fake.paths("POST", "/talks")
    assert create.headers["authorization"] == f"Basic {KEY}"
    assert create.json() == {
        "source_url": image_url,
        "script": {"type": "audio", "audio_url": audio_url},
        "config": {"stitch": True},
    }

    # 4. polled through created -> started -> done, then the result downloaded without credentials
    [talk] = fake.talks.values()
    polls = fake.paths("GET", f"/talks/{talk.id}")
    assert len(polls) == 3 and talk.polls == 3
    assert all(p.headers["authorization"] == f"Basic {KEY}" for p in polls)
    [download] = fake.paths("GET", "/results/")
    assert "authorization" not in download.headers

    # 5. a real MP4 as long as the narration
    info = probe(out)
    video = [s for s in info["streams"] if s["codec_type"] == "video"]
    assert len(video) == 1 and (video[0]["codec_name"], video[0]["width"], video[0]["height"]) == ("h264", 512, 512)
    assert any(s["codec_type"] == "audio" for s in info["streams"])
    assert abs(float(info["format"]["duration"]) - media_duration(audio)) < 0.25
    assert out.read_bytes() == talk.mp4


def test_source_url_skips_the_picture_upload_and_presenter_is_uploaded_once(fake, audio, tmp_path):
    gen = client(fake, source_url="https://example.com/presenter.jpg")
    gen.generate(make_request(audio), tmp_path / "a.mp4")
    assert fake.paths("POST", "/images") == []
    assert fake.paths("POST", "/talks")[0].json()["source_url"] == "https://example.com/presenter.jpg"

    drawn = client(fake)
    drawn.generate(make_request(audio, "intro"), tmp_path / "b.mp4")
    drawn.generate(make_request(audio, "outro"), tmp_path / "c.mp4")
    assert len(fake.paths("POST", "/images")) == 1
    assert len(fake.paths("POST", "/audios")) == 3
    for name in ("a.mp4", "b.mp4", "c.mp4"):
        assert any(s["codec_type"] == "video" for s in probe(tmp_path / name)["streams"])


def test_mp3_narration_is_uploaded_as_mpeg(fake, audio, tmp_path):
    mp3 = tmp_path / "outro.mp3"
    run_ffmpeg(["-i", str(audio), "-c:a", "libmp3lame", "-b:a", "64k", str(mp3)], what="making a test MP3")
    out = client(fake).generate(make_request(mp3, "outro"), tmp_path / "outro.mp4")
    assert fake.paths("POST", "/audios")[0].files["audio"][:2] == ("outro.mp3", "audio/mpeg")
    assert abs(media_duration(out) - media_duration(mp3)) < 0.25


@pytest.mark.parametrize(
    ("status", "code"),
    [(429, "DID_RATE_LIMITED"), (500, "DID_SERVER_ERROR"), (502, "DID_SERVER_ERROR"),
     (503, "DID_SERVER_ERROR"), (504, "DID_SERVER_ERROR")],
)
@pytest.mark.parametrize("path", ["/audios", "/talks"])
def test_retryable_statuses(fake, audio, tmp_path, status, code, path):
    fake.enqueue(status, {"kind": "Busy", "description": "try later"}, {"Retry-After": "4"}, method="POST", path=path)
    err = failure(fake, audio, tmp_path)
    assert (err.code, err.retryable, err.status, err.retry_after) == (code, True, status, 4.0)
    assert "Busy: try later" in err.message

    fake.enqueue(status, {"kind": "Busy", "description": "again"}, method="POST", path=path)
    err = failure(fake, audio, tmp_path)
    assert err.retryable is True and err.retry_after is None


@pytest.mark.parametrize(
    ("status", "body", "code", "in_message"),
    [
        (400, {"kind": "ValidationError", "description": "audio too long"}, "DID_BAD_REQUEST", "audio too long"),
        (402, {"kind": "InsufficientCreditsError", "description": "not enough credits"}, "DID_QUOTA_EXCEEDED", "not enough credits"),
        (403, {"kind": "PermissionError", "description": "plan does not allow this"}, "DID_FORBIDDEN", "DID_API_KEY"),
        (400, {"kind": "ModerationError", "description": "the audio failed moderation"}, "DID_CONTENT_POLICY", "moderation"),
    ],
)
def test_non_retryable_statuses(fake, audio, tmp_path, status, body, code, in_message):
    fake.enqueue(status, body, method="POST", path="/talks")
    err = failure(fake, audio, tmp_path)
    assert (err.code, err.retryable, err.status) == (code, False, status)
    assert in_message in err.message


def test_wrong_key_is_auth(fake, audio, tmp_path):
    err = failure(fake, audio, tmp_path, api_key="bad:key")
    assert (err.code, err.retryable, err.status) == ("DID_AUTH", False, 401)
    assert "DID_API_KEY" in err.message and "bad:key" not in err.message
    assert fake.talks == {}


def test_key_echoed_by_the_service_is_scrubbed(fake, audio, tmp_path):
    fake.enqueue(400, {"kind": "ValidationError", "description": f"bad header Basic {KEY}"}, path="/audios")
    err = failure(fake, audio, tmp_path)
    assert err.code == "DID_BAD_REQUEST" and "***" in err.message


@pytest.mark.parametrize(
    ("method", "path", "status", "body"),
    [
        ("POST", "/talks", 201, {"object": "talk", "status": "created"}),  # no id
        ("POST", "/audios", 201, {"id": "aud_x"}),  # no url
        ("POST", "/talks", 201, "<html>gateway</html>"),  # not JSON
        ("GET", "/talks/", 200, {"id": "tlk_x", "status": "done"}),  # done without result_url
    ],
)
def test_malformed_replies_are_invalid_response(fake, audio, tmp_path, method, path, status, body):
    fake.enqueue(status, body, method=method, path=path)
    err = failure(fake, audio, tmp_path)
    assert (err.code, err.retryable) == ("DID_INVALID_RESPONSE", False)


def test_result_that_is_not_an_mp4_is_invalid_response(fake, audio, tmp_path):
    fake.enqueue(200, b"<html>not a video</html>", {"Content-Type": "text/html"}, path="/results/")
    err = failure(fake, audio, tmp_path)
    assert err.code == "DID_INVALID_RESPONSE" and "not an MP4" in err.message


def test_talk_error_carries_the_description(fake, audio, tmp_path):
    fake.talk_statuses = ["created", "started", "error"]
    fake.talk_error = {"kind": "FaceError", "description": "Could not identify a face in the image"}
    err = failure(fake, audio, tmp_path)
    assert (err.code, err.retryable) == ("DID_INVALID_RESPONSE", False)
    assert "FaceError: Could not identify a face in the image" in err.message


def test_rejected_talk_is_content_policy(fake, audio, tmp_path):
    fake.talk_statuses = ["rejected"]
    fake.talk_error = {"kind": "ContentModeration", "description": "the source image was rejected"}
    err = failure(fake, audio, tmp_path)
    assert (err.code, err.retryable) == ("DID_CONTENT_POLICY", False)
    assert "the source image was rejected" in err.message


def test_talk_that_never_finishes_times_out(fake, audio, tmp_path):
    fake.talk_statuses = ["created", "started"]
    started = time.monotonic()
    err = failure(fake, audio, tmp_path, max_wait=1.5, poll_interval=0.2)
    assert time.monotonic() - started >= 1.4  # it waited out max_wait (a slow machine only adds)
    assert (err.code, err.retryable) == ("DID_TIMEOUT", True)
    assert "started" in err.message and "not done after 1.5 s" in err.message
    # Counted, not timed: it kept polling, and stopped at the deadline. The sleeps between
    # polls add up to at most max_wait, so there are at most 1.5 / 0.2 + 1 of them (+1 poll).
    [talk] = fake.talks.values()
    assert 2 <= talk.polls <= 9, talk.polls
    assert len(fake.paths("POST", "/talks")) == 1, "the talk is not created again"


def test_transient_poll_failure_is_retried_within_the_poll_loop(fake, audio, tmp_path):
    fake.enqueue(503, {"kind": "ServiceUnavailable"}, method="GET", path="/talks/")
    fake.enqueue(429, {"kind": "TooManyRequests"}, method="GET", path="/talks/")
    out = client(fake).generate(make_request(audio), tmp_path / "ok.mp4")
    assert out.exists()
    assert len(fake.paths("POST", "/talks")) == 1, "the talk is not created twice"


def test_client_timeout(fake, audio, tmp_path):
    fake.enqueue(201, {"id": "aud", "url": "s3://late"}, delay=1.5, method="POST", path="/audios")
    err = failure(fake, audio, tmp_path, timeout=0.5)
    # Had the client waited for the (successful) late reply, it would have gone on to /talks.
    assert (err.code, err.retryable) == ("DID_TIMEOUT", True)
    assert [(r.method, r.path) for r in fake.requests] == [("POST", "/audios")]


def test_connection_refused(audio, tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    gen = DIDAvatarGenerator(api_key=KEY, base_url=f"http://127.0.0.1:{port}", timeout=2)
    with pytest.raises(ProviderError) as info:
        gen.generate(make_request(audio), tmp_path / "x.mp4")
    assert (info.value.code, info.value.retryable) == ("DID_CONNECTION", True)
    assert KEY not in str(info.value)


def test_get_credits(fake):
    fake.remaining, fake.total = 17, 20
    credits = client(fake).get_credits()
    assert (credits["remaining"], credits["total"]) == (17, 20)
    req = fake.requests[-1]
    assert (req.method, req.path, req.headers["authorization"]) == ("GET", "/credits", f"Basic {KEY}")
    fake.enqueue(402, {"kind": "InsufficientCreditsError", "description": "no credits"}, path="/credits")
    with pytest.raises(ProviderError) as info:
        client(fake).get_credits()
    assert info.value.code == "DID_QUOTA_EXCEEDED"


def test_from_settings_requires_the_key():
    with pytest.raises(ProviderError) as info:
        DIDAvatarGenerator.from_settings(Settings(DID_API_KEY=None))
    assert info.value.code == "DID_AUTH" and "DID_API_KEY is not set" in info.value.message


def test_registered_provider_built_from_settings(fake, audio, tmp_path, env):
    env(DID_API_KEY=KEY, DID_BASE_URL=fake.url, DID_SOURCE_URL="https://example.com/me.png",
        YTMAKER_HTTP_TIMEOUT_SECONDS="5")
    gen = get_provider("avatar", get_settings(), "did")
    assert KEY not in repr(gen._inner)
    gen._inner.poll_interval = 0.05
    out = gen.generate(make_request(audio), tmp_path / "reg.mp4")
    assert abs(media_duration(out) - AUDIO_SECONDS) < 0.25
    assert fake.paths("POST", "/talks")[0].json()["source_url"] == "https://example.com/me.png"
