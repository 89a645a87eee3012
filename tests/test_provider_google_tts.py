"""The Google TTS synthesizer (google-api-python-client) against a fake TTS server on
127.0.0.1 that answers with real MP3s (no internet)."""

from __future__ import annotations

import base64
import socket
from pathlib import Path

import pytest

from tests.fakes.tts_server import FakeTTS, google_error, synthesize_mp3
from ytmaker.media.narration import SAMPLE_RATE, decode_pcm, narrate_part
from ytmaker.providers import get_provider
from ytmaker.providers.errors import ProviderError
from ytmaker.providers.google_tts import GoogleSpeechSynthesizer, language_code_for_voice
from ytmaker.core.settings import Settings


@pytest.fixture
def tts():
    with FakeTTS() as fake:
        yield fake


def _synth(fake: FakeTTS, *, api_key: str | None = None, timeout: float = 5.0, **kwargs) -> GoogleSpeechSynthesizer:
    return GoogleSpeechSynthesizer(
        api_key=fake.api_key if api_key is None else api_key, base_url=fake.base_url, timeout=timeout, **kwargs
    )


def _fail(fake: FakeTTS, tmp_path: Path, **kwargs) -> ProviderError:
    out = tmp_path / "fail.mp3"
    with pytest.raises(ProviderError) as info:
        _synth(fake, **kwargs).synthesize("Hello there.", "en", out)
    assert not out.exists()
    return info.value


def _seconds(path: Path) -> float:
    return len(decode_pcm(path)) / 2 / SAMPLE_RATE


# ---------------------------------------------------------------------- success


def test_english_speech_is_a_real_mp3(tts, tmp_path):
    out = tmp_path / "sub" / "hello.audio"
    result = _synth(tts).synthesize("Honeybees live in colonies built around a single queen.", "en", out)

    assert result == out and out.exists()
    assert out.read_bytes()[:3] == b"ID3" or out.read_bytes()[0] == 0xFF  # an MP3 stream
    assert 1.0 < _seconds(out) < 10.0
    assert [p.name for p in out.parent.iterdir()] == ["hello.audio"]  # no staging file left behind

    assert len(tts.requests) == 1
    sent = tts.requests[0]
    assert (sent.method, sent.path) == ("POST", "/v1/text:synthesize")
    # The key travels in a header, never in the URL (which the client library logs).
    assert sent.headers["x-goog-api-key"] == tts.api_key and "key" not in sent.query
    assert sent.json == {
        "input": {"text": "Honeybees live in colonies built around a single queen."},
        "voice": {"languageCode": "en-US", "name": "en-US-Standard-C"},
        "audioConfig": {"audioEncoding": "MP3"},
    }


def test_chinese_uses_the_zh_voice(tts, tmp_path):
    synth = _synth(tts, voice_zh="cmn-TW-Wavenet-B")
    out = synth.synthesize("台北一零一是台灣最有名的地標。", "zh-TW", tmp_path / "zh.mp3")
    assert _seconds(out) > 1.0
    assert tts.requests[0].json["voice"] == {"languageCode": "cmn-TW", "name": "cmn-TW-Wavenet-B"}


def test_longer_text_gives_longer_audio(tts, tmp_path):
    synth = _synth(tts)
    short = synth.synthesize("Hello.", "en", tmp_path / "short.mp3")
    long = synth.synthesize("Hello. " + "A forager that finds flowers tells her sisters with a waggle dance. " * 3,
                            "en", tmp_path / "long.mp3")
    assert _seconds(long) > _seconds(short) + 3


def test_narration_of_a_part_through_the_synthesizer(tts, tmp_path):
    part = narrate_part(_synth(tts), part="intro", text="Welcome! Today we look at honeybees.", language="en",
                        out_wav=tmp_path / "intro.wav", min_seconds=5)
    assert len(part.sentences) == 2 and len(tts.requests) == 2
    assert part.frames >= 150 and Path(part.path).exists()


def test_language_code_from_voice():
    assert language_code_for_voice("cmn-TW-Standard-A") == "cmn-TW"
    assert language_code_for_voice("en-GB-Neural2-B") == "en-GB"


def test_from_settings_and_registration(tts, env, tmp_path):
    env(GOOGLE_TTS_API_KEY=tts.api_key, GOOGLE_TTS_BASE_URL=tts.base_url, GOOGLE_TTS_VOICE_EN="en-GB-Standard-B",
        YTMAKER_HTTP_TIMEOUT_SECONDS="5")
    settings = Settings()
    synth = get_provider("tts", settings, "google")
    out = synth.synthesize("Good evening.", "en", tmp_path / "gb.mp3")
    assert _seconds(out) > 0.3
    assert tts.requests[-1].json["voice"] == {"languageCode": "en-GB", "name": "en-GB-Standard-B"}
    assert tts.api_key not in repr(GoogleSpeechSynthesizer.from_settings(settings))


def test_from_settings_without_a_key(monkeypatch):
    monkeypatch.delenv("GOOGLE_TTS_API_KEY", raising=False)
    with pytest.raises(ProviderError) as info:
        GoogleSpeechSynthesizer.from_settings(Settings(_env_file=None))
    assert info.value.code == "TTS_AUTH" and not info.value.retryable
    assert "GOOGLE_TTS_API_KEY is not set" in str(info.value)


def test_a_base_url_with_a_path_prefix(tmp_path):
    with FakeTTS() as fake:
        synth = GoogleSpeechSynthesizer(api_key=fake.api_key, base_url=fake.base_url.rstrip("/"), timeout=5)
        synth.synthesize("Hi.", "en", tmp_path / "hi.mp3")
        assert fake.requests[0].path == "/v1/text:synthesize"


# ---------------------------------------------------------------------- HTTP errors


@pytest.mark.parametrize(
    "status,code", [(429, "TTS_RATE_LIMITED"), (500, "TTS_SERVER_ERROR"), (502, "TTS_SERVER_ERROR"),
                    (503, "TTS_SERVER_ERROR"), (504, "TTS_SERVER_ERROR")]
)
def test_retryable_statuses(tts, tmp_path, status, code):
    tts.enqueue(status, headers={"Retry-After": "4"})
    tts.enqueue(status)
    first = _fail(tts, tmp_path)
    assert (first.code, first.retryable, first.status, first.retry_after) == (code, True, status, 4.0)
    second = _fail(tts, tmp_path)
    assert (second.code, second.retryable, second.retry_after) == (code, True, None)
    assert len(tts.requests) == 2  # neither the client library nor the provider retried


def test_429_quota_is_not_retryable(tts, tmp_path):
    tts.enqueue(429, google_error(429, "Quota exceeded for quota metric 'Characters' and limit 'Characters per day'; "
                                       "enable billing."))
    err = _fail(tts, tmp_path)
    assert (err.code, err.retryable) == ("TTS_QUOTA_EXCEEDED", False)


def test_400_bad_request(tts, tmp_path):
    tts.enqueue(400, google_error(400, "Voice 'xx-XX-Nope' does not exist."))
    err = _fail(tts, tmp_path)
    assert (err.code, err.retryable, err.status) == ("TTS_BAD_REQUEST", False, 400)
    assert "does not exist" in str(err)


def test_401_wrong_key(tts, tmp_path):
    err = _fail(tts, tmp_path, api_key="wrong-key-abcdef")
    assert (err.code, err.retryable, err.status) == ("TTS_AUTH", False, 401)
    assert "GOOGLE_TTS_API_KEY" in str(err)


def test_400_api_key_invalid_is_auth(tts, tmp_path):
    details = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}]
    tts.enqueue(400, google_error(400, "API key not valid. Please pass a valid API key.", details))
    err = _fail(tts, tmp_path)
    assert (err.code, err.retryable) == ("TTS_AUTH", False)


def test_403_forbidden(tts, tmp_path):
    tts.enqueue(403, google_error(403, "Cloud Text-to-Speech API has not been used in project 1 before or it is disabled."))
    err = _fail(tts, tmp_path)
    assert (err.code, err.retryable, err.status) == ("TTS_FORBIDDEN", False, 403)
    assert "GOOGLE_TTS_API_KEY" in str(err)


def test_text_over_the_api_limit_is_refused_before_sending(tts, tmp_path):
    with pytest.raises(ProviderError) as info:
        _synth(tts).synthesize("字" * 2000, "zh-TW", tmp_path / "big.mp3")
    err = info.value
    assert err.code == "TTS_BAD_REQUEST" and "5000" in str(err)
    assert tts.requests == []


# ---------------------------------------------------------------------- malformed replies


@pytest.mark.parametrize(
    "body,words",
    [
        ({}, "audioContent is missing"),
        ({"audioContent": ""}, "audioContent is missing"),
        ({"audioContent": "this is not base64!!"}, "not valid base64"),
        ({"timepoints": []}, "audioContent is missing"),
    ],
)
def test_invalid_audio_content(tts, tmp_path, body, words):
    tts.enqueue(200, body)
    err = _fail(tts, tmp_path)
    assert (err.code, err.retryable) == ("TTS_INVALID_RESPONSE", False)
    assert words in str(err)


def test_non_json_reply(tts, tmp_path):
    tts.enqueue(200, "<html>proxy login</html>")
    err = _fail(tts, tmp_path)
    assert err.code == "TTS_INVALID_RESPONSE"


def test_a_valid_scripted_reply_is_written(tts, tmp_path):
    mp3 = synthesize_mp3("scripted reply", "en-US")
    tts.enqueue(200, {"audioContent": base64.b64encode(mp3).decode()})
    out = _synth(tts).synthesize("anything", "en", tmp_path / "s.mp3")
    assert out.read_bytes() == mp3


# ---------------------------------------------------------------------- transport


def test_timeout(tts, tmp_path):
    tts.enqueue(200, delay=3.0)
    err = _fail(tts, tmp_path, timeout=0.5)
    # Had the client waited for the late reply, it would have read it (not a timeout).
    assert (err.code, err.retryable) == ("TTS_TIMEOUT", True)
    assert len(tts.requests) == 1, "one attempt: retrying is the task's job"


def test_connection_refused(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    synth = GoogleSpeechSynthesizer(api_key="secret-key-xyz", base_url=f"http://127.0.0.1:{port}/", timeout=2)
    with pytest.raises(ProviderError) as info:
        synth.synthesize("Hello.", "en", tmp_path / "x.mp3")
    assert (info.value.code, info.value.retryable) == ("TTS_CONNECTION", True)
    assert "secret-key-xyz" not in str(info.value)


def test_the_key_is_in_no_error_message(tts, tmp_path):
    """HttpError's own text carries the URL with ?key=...; none of it may leak."""
    tts.enqueue(500)
    tts.enqueue(400, google_error(400, f"bad request for key={tts.api_key}"))
    tts.enqueue(429)
    tts.enqueue(200, {"audioContent": "%%%"})
    tts.enqueue(200, delay=3.0)
    errors = [_fail(tts, tmp_path) for _ in range(4)] + [_fail(tts, tmp_path, timeout=0.5)]
    errors.append(_fail(tts, tmp_path, api_key="wrong-key-0000"))
    assert [e.code for e in errors] == ["TTS_SERVER_ERROR", "TTS_BAD_REQUEST", "TTS_RATE_LIMITED",
                                         "TTS_INVALID_RESPONSE", "TTS_TIMEOUT", "TTS_AUTH"]
    for err in errors:
        text = f"{err} {err!r} {err.details} {err.__cause__!r} {err.__context__!r}"
        assert tts.api_key not in text and "wrong-key-0000" not in text
