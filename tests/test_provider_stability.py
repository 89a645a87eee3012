"""StabilityImageGenerator against a fake Stability AI server speaking the real wire format."""

from __future__ import annotations

import hashlib
import socket
from pathlib import Path

import pytest
from PIL import Image

from tests.fakes.stability_server import GENERATE_PATH, FakeStability
from ytmaker.providers import get_provider
from ytmaker.providers.base import ImageGenerator, ImageRequest
from ytmaker.providers.errors import ProviderError
from ytmaker.providers.stability import STYLE_SUFFIX, StabilityImageGenerator
from ytmaker.core.settings import Settings, get_settings

KEY = "sk-SECRET-stability-4f9a1c"


@pytest.fixture
def fake():
    with FakeStability(api_key=KEY) as server:
        yield server


def make_request(index: int = 2, description: str = "A honeybee dancing on a honeycomb") -> ImageRequest:
    return ImageRequest(
        project_id=7, segment_index=index, segment_count=3, description=description, title="Bees", language="en"
    )


def client(fake: FakeStability, timeout: float = 5.0, key: str = KEY) -> StabilityImageGenerator:
    return StabilityImageGenerator(api_key=key, base_url=fake.url, timeout=timeout)


def failure(fake: FakeStability, tmp_path: Path, timeout: float = 5.0, key: str = KEY) -> ProviderError:
    out = tmp_path / "img.png"
    with pytest.raises(ProviderError) as info:
        client(fake, timeout, key).generate(make_request(), out)
    assert not out.exists(), "no output file after a failure"
    assert not list(tmp_path.glob(".img.*")), "no temp file left behind"
    assert KEY not in str(info.value) and KEY not in repr(info.value.details)
    return info.value


def test_generate_sends_the_v2beta_request_and_writes_1920x1080(fake, tmp_path):
    gen = client(fake)
    assert isinstance(gen, ImageGenerator)
    out = gen.generate(make_request(), tmp_path / "seg" / "segment_02.png")

    assert out == tmp_path / "seg" / "segment_02.png"
    with Image.open(out) as image:
        assert image.format == "PNG"
        assert image.size == (1920, 1080)
        assert image.mode == "RGB"
        # The fake's 1344x768 picture has a white frame; cover-scaling keeps it at the edges.
        assert min(image.getpixel((960, 2))) > 200 and min(image.getpixel((2, 540))) > 200
        assert image.getpixel((960, 540)) != (255, 255, 255)

    [req] = fake.requests
    assert (req.method, req.path) == ("POST", GENERATE_PATH)
    assert req.headers["authorization"] == f"Bearer {KEY}"
    assert req.headers["accept"] == "image/*"
    assert req.headers["content-type"].startswith("multipart/form-data; boundary=")
    assert req.form["prompt"].startswith("A honeybee dancing on a honeycomb")
    assert req.form["prompt"].endswith(STYLE_SUFFIX)
    assert req.form["aspect_ratio"] == "16:9"
    assert req.form["output_format"] == "png"
    assert 0 <= int(req.form["seed"]) < 4_294_967_294


def test_images_follow_the_prompt_and_seeds_are_stable(fake, tmp_path):
    gen = client(fake)
    a = gen.generate(make_request(1, "A red volcano at dusk"), tmp_path / "a.png")
    b = gen.generate(make_request(2, "A blue glacier in the morning"), tmp_path / "b.png")
    gen.generate(make_request(1, "A red volcano at dusk"), tmp_path / "c.png")
    assert a.read_bytes() != b.read_bytes()
    assert a.read_bytes() == (tmp_path / "c.png").read_bytes()
    seeds = [r.form["seed"] for r in fake.generate_requests()]
    assert seeds[0] == seeds[2] != seeds[1]


def test_a_remake_sends_another_seed(fake, tmp_path):
    gen = client(fake)
    original = make_request(1, "A red volcano at dusk")
    gen.generate(original, tmp_path / "r0.png")
    gen.generate(original.model_copy(update={"revision": 1}), tmp_path / "r1.png")
    gen.generate(original.model_copy(update={"revision": 2}), tmp_path / "r2.png")
    seeds = [int(r.form["seed"]) for r in fake.generate_requests()]
    assert len(set(seeds)) == 3, seeds
    # Revision 0 keeps the seed of index and description alone, as before remakes existed.
    legacy = hashlib.sha256("1\x00A red volcano at dusk".encode()).digest()
    assert seeds[0] == int.from_bytes(legacy[:4], "big") % 4_294_967_294


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (429, "STABILITY_RATE_LIMITED"),
        (500, "STABILITY_SERVER_ERROR"),
        (502, "STABILITY_SERVER_ERROR"),
        (503, "STABILITY_SERVER_ERROR"),
        (504, "STABILITY_SERVER_ERROR"),
    ],
)
def test_retryable_statuses(fake, tmp_path, status, code):
    fake.enqueue(status, {"id": "x", "name": "server_error", "errors": ["try again"]}, {"Retry-After": "7"})
    err = failure(fake, tmp_path)
    assert err.code == code and err.retryable is True
    assert err.status == status and err.retry_after == 7.0
    assert "segment 2" in err.message

    fake.enqueue(status, {"id": "x", "name": "server_error", "errors": ["again"]})  # no Retry-After
    err = failure(fake, tmp_path)
    assert err.retryable is True and err.retry_after is None


@pytest.mark.parametrize(
    ("status", "body", "code", "in_message"),
    [
        (400, {"id": "a", "name": "bad_request", "errors": ["aspect_ratio: invalid"]}, "STABILITY_BAD_REQUEST", "aspect_ratio: invalid"),
        (403, {"id": "b", "name": "forbidden", "errors": ["not allowed"]}, "STABILITY_FORBIDDEN", "STABILITY_API_KEY"),
        (402, {"id": "c", "name": "payment_required", "errors": ["lacks sufficient credits"]}, "STABILITY_QUOTA_EXCEEDED", "credits"),
        (413, {"id": "d", "name": "payload_too_large", "errors": ["too big"]}, "STABILITY_BAD_REQUEST", "too big"),
    ],
)
def test_non_retryable_statuses(fake, tmp_path, status, body, code, in_message):
    fake.enqueue(status, body)
    err = failure(fake, tmp_path)
    assert (err.code, err.retryable, err.status) == (code, False, status)
    assert in_message in err.message


def test_wrong_key_is_auth_and_names_the_setting(fake, tmp_path):
    err = failure(fake, tmp_path, key="sk-wrong-key")
    assert (err.code, err.retryable, err.status) == ("STABILITY_AUTH", False, 401)
    assert "STABILITY_API_KEY" in err.message
    assert "sk-wrong-key" not in err.message


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (403, {"id": "m", "name": "content_moderation", "errors": ["Your request was flagged by our content moderation system"]}),
        (400, {"id": "n", "name": "bad_request", "errors": ["prompt violates our content policy"]}),
    ],
)
def test_content_moderation(fake, tmp_path, status, body):
    fake.enqueue(status, body)
    err = failure(fake, tmp_path)
    assert (err.code, err.retryable) == ("STABILITY_CONTENT_POLICY", False)
    assert "segment 2" in err.message
    assert "flagged" in err.message or "content policy" in err.message


def test_filtered_image_is_content_policy(fake, tmp_path):
    fake.enqueue(200, b"\x89PNG blurred", {"Content-Type": "image/png", "finish-reason": "CONTENT_FILTERED"})
    err = failure(fake, tmp_path)
    assert err.code == "STABILITY_CONTENT_POLICY" and err.retryable is False


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        ({"image": "not-really", "finish_reason": "SUCCESS"}, {}),  # JSON instead of an image
        (b"\x89PNG\r\n\x1a\ntruncated", {"Content-Type": "image/png"}),  # a broken image
        (b"", {"Content-Type": "image/png"}),
    ],
)
def test_malformed_success_is_invalid_response(fake, tmp_path, body, headers):
    fake.enqueue(200, body, headers)
    err = failure(fake, tmp_path)
    assert (err.code, err.retryable) == ("STABILITY_INVALID_RESPONSE", False)


def test_client_timeout(fake, tmp_path):
    fake.enqueue(200, b"late", {"Content-Type": "image/png"}, delay=1.5)
    err = failure(fake, tmp_path, timeout=0.5)
    # Had the client waited for the late reply, it would have read it (INVALID_RESPONSE).
    assert (err.code, err.retryable) == ("STABILITY_TIMEOUT", True)
    assert len(fake.requests) == 1, "one attempt: retrying is the task's job"


def test_connection_refused(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    gen = StabilityImageGenerator(api_key=KEY, base_url=f"http://127.0.0.1:{port}", timeout=2)
    with pytest.raises(ProviderError) as info:
        gen.generate(make_request(), tmp_path / "x.png")
    assert (info.value.code, info.value.retryable) == ("STABILITY_CONNECTION", True)
    assert KEY not in str(info.value)


def test_key_echoed_by_the_service_is_scrubbed(fake, tmp_path):
    fake.enqueue(400, {"id": "e", "name": "bad_request", "errors": [f"bad header Bearer {KEY}"]})
    err = failure(fake, tmp_path)
    assert err.code == "STABILITY_BAD_REQUEST" and "***" in err.message


def test_get_balance(fake):
    fake.credits = 12.5
    assert client(fake).get_balance() == 12.5
    req = fake.requests[-1]
    assert (req.method, req.path, req.headers["authorization"]) == ("GET", "/v1/user/balance", f"Bearer {KEY}")
    fake.enqueue(200, {"balance": "?"})
    with pytest.raises(ProviderError) as info:
        client(fake).get_balance()
    assert info.value.code == "STABILITY_INVALID_RESPONSE"
    with pytest.raises(ProviderError) as info:
        client(fake, key="nope").get_balance()
    assert info.value.code == "STABILITY_AUTH"


def test_from_settings_requires_the_key():
    with pytest.raises(ProviderError) as info:
        StabilityImageGenerator.from_settings(Settings(STABILITY_API_KEY=None))
    assert info.value.code == "STABILITY_AUTH" and "STABILITY_API_KEY is not set" in info.value.message


def test_registered_provider_built_from_settings(fake, tmp_path, env):
    env(STABILITY_API_KEY=KEY, STABILITY_BASE_URL=fake.url, YTMAKER_HTTP_TIMEOUT_SECONDS="5")
    gen = get_provider("image", get_settings(), "stability")
    assert KEY not in repr(gen._inner)
    out = gen.generate(make_request(1), tmp_path / "reg.png")
    with Image.open(out) as image:
        assert image.size == (1920, 1080)
    assert fake.generate_requests()[0].headers["authorization"] == f"Bearer {KEY}"
