"""The whole video_flow with every stage on its cloud provider, against fake servers on
127.0.0.1 that speak each API's wire protocol — and a search for the keys everywhere a run
leaves something behind."""

from __future__ import annotations

import base64
import json
import logging
import os
from pathlib import Path

import pytest
import redis
from prefect import get_client

from data import ProjectStatus, create_project, get_project, update_project
from tests.fakes.did_server import FakeDID
from tests.fakes.gemini_server import FakeGemini
from tests.fakes.stability_server import FakeStability
from tests.fakes.tts_server import FakeTTS
from tests.fakes.youtube_server import FakeYouTube
from tests.media_checks import assert_youtube_ready
from ytmaker.media.ffmpeg import media_duration
from ytmaker.runtime.progress_bus import stream_name
from ytmaker.core.settings import get_settings

pytestmark = pytest.mark.usefixtures("prefect_harness")

GEMINI_KEY = "SENTINEL-gemini-7f3a9c"
TTS_KEY = "SENTINEL-tts-51be02"
STABILITY_KEY = "sk-SENTINEL-stability-c0ffee"
DID_KEY = "SENTINEL-did-user:SENTINEL-did-secret-9d8e"
YT_SECRET = "GOCSPX-SENTINEL-client-secret-4a4a"
YT_REFRESH = "1//SENTINEL-refresh-token-77aa"


@pytest.fixture
def cloud(env, tmp_path):
    with FakeGemini(api_key=GEMINI_KEY) as gemini, FakeTTS(api_key=TTS_KEY) as tts, \
            FakeStability(api_key=STABILITY_KEY) as stability, FakeDID(api_key=DID_KEY) as did, \
            FakeYouTube(client_secret=YT_SECRET, refresh_token=YT_REFRESH) as youtube:
        token_file = youtube.write_token_file(tmp_path / "youtube-token.json")
        env(
            YTMAKER_SCRIPT_PROVIDER="gemini", YTMAKER_TTS_PROVIDER="google", YTMAKER_IMAGE_PROVIDER="stability",
            YTMAKER_AVATAR_PROVIDER="did", YTMAKER_PUBLISH_PROVIDER="youtube",
            GEMINI_API_KEY=GEMINI_KEY, GEMINI_BASE_URL=gemini.base_url,
            GOOGLE_TTS_API_KEY=TTS_KEY, GOOGLE_TTS_BASE_URL=tts.base_url,
            STABILITY_API_KEY=STABILITY_KEY, STABILITY_BASE_URL=stability.url,
            DID_API_KEY=DID_KEY, DID_BASE_URL=did.url,
            YOUTUBE_TOKEN_FILE=str(token_file), YOUTUBE_BASE_URL=youtube.base_url,
        )
        yield {"gemini": gemini, "tts": tts, "stability": stability, "did": did, "youtube": youtube}


def _run(project_id: int):
    from flows import video_flow

    return video_flow(project_id=project_id, return_state=True)


def _secrets(cloud) -> list[str]:
    return [GEMINI_KEY, TTS_KEY, STABILITY_KEY, DID_KEY, YT_SECRET, YT_REFRESH, *cloud["youtube"].issued_tokens]


def _readable(path: Path) -> str:
    """A file's text; for a Prefect result record also its (base64, pickled) value."""
    raw = path.read_bytes()
    text = raw.decode("utf-8", errors="replace")
    try:
        record = json.loads(raw)
        text += base64.b64decode(record["result"]).decode("latin-1")
    except (ValueError, KeyError, TypeError):
        pass
    return text


def test_every_stage_on_its_cloud_provider_makes_a_video_and_no_key_leaks(cloud, caplog, en_content):
    project = create_project("Bees in the cloud", en_content, "en")
    with caplog.at_level(logging.DEBUG):
        state = _run(project.id)
    assert state.is_completed(), state.message
    result = state.result()
    record = get_project(project.id)

    # Each provider really was called over its wire protocol.
    assert cloud["gemini"].requests and cloud["tts"].requests
    assert len([r for r in cloud["stability"].requests if r.path.endswith("/generate/core")]) == len(record.script["segments"])
    assert cloud["youtube"].inserts == 1 and cloud["youtube"].completed == 1
    video_id = cloud["youtube"].only_video().id
    assert result.video_id == record.youtube_video_id == video_id
    assert result.video_url == f"https://www.youtube.com/watch?v={video_id}"
    assert record.status == ProjectStatus.COMPLETED
    audio = Path(result.video_path).parent.parent / "audio" / "full_audio.mp3"
    assert_youtube_ready(Path(result.video_path), media_duration(audio))
    assert cloud["youtube"].only_video().data == Path(result.video_path).read_bytes()

    # Everything the run left behind, searched for every key and token.
    haystack: list[tuple[str, str]] = [("flow result", result.model_dump_json()), ("logs", caplog.text),
                                       ("project row", record.model_dump_json())]
    r = redis.Redis.from_url(get_settings().redis_url, decode_responses=True)
    haystack += [("progress", json.dumps(r.xrange(stream_name(project.id))))]
    with get_client(sync_client=True) as client:
        haystack += [("prefect logs", " ".join(log.message for log in client.read_logs()))]
        haystack += [("artifacts", " ".join(str(a.data) for a in client.read_artifacts()))]
        runs = client.read_flow_runs()
        haystack += [("flow run parameters", json.dumps([fr.parameters for fr in runs], default=str))]
        haystack += [("task runs", " ".join(t.model_dump_json() for t in client.read_task_runs()))]
    roots = [get_settings().data_dir, Path(os.environ["PREFECT_RESULTS_LOCAL_STORAGE_PATH"])]
    for root in roots:  # results, the app database, project files, upload records
        for path in (p for p in root.rglob("*") if p.is_file()):
            haystack.append((str(path), _readable(path)))
    for secret in _secrets(cloud):
        leaks = [where for where, text in haystack if secret in text]
        assert not leaks, f"{secret[:14]}... found in {leaks}"


def test_a_refused_key_fails_with_its_code_and_names_the_setting(cloud, env, en_content):
    env(STABILITY_API_KEY="sk-SENTINEL-wrong-key-123")
    project = create_project("Bees, wrong key", en_content, "en")
    state = _run(project.id)
    assert state.is_failed()
    info = get_project(project.id).error_info
    assert info["code"] == "STABILITY_AUTH" and info["stage"] == "asset_generation"
    assert "STABILITY_API_KEY" in info["message"]
    assert "sk-SENTINEL-wrong-key-123" not in json.dumps(info) + str(state.message)
    # 401 is not retried: one request per picture.
    generate = [r for r in cloud["stability"].requests if r.path.endswith("/generate/core")]
    assert len(generate) == len(get_project(project.id).script["segments"])


def test_crash_after_upload_before_the_row_is_updated_never_uploads_twice(cloud, en_content):
    project = create_project("Bees, crash after upload", en_content, "en")
    assert _run(project.id).is_completed()
    video_id = cloud["youtube"].only_video().id
    # The crash: the publish step's result was never stored and the row never updated.
    results = Path(os.environ["PREFECT_RESULTS_LOCAL_STORAGE_PATH"])
    stored = [p for p in results.rglob("*") if p.is_file() and video_id in _readable(p)]
    assert stored
    for path in stored:
        path.unlink()
    update_project(project.id, status=ProjectStatus.UPLOADING, youtube_video_id=None, video_url=None)

    state = _run(project.id)
    assert state.is_completed(), state.message
    assert cloud["youtube"].inserts == 1  # exactly one insert reached the server
    assert state.result().video_id == video_id == get_project(project.id).youtube_video_id


def test_youtube_quota_refusal_waits_for_the_reset_then_publishes(cloud, en_content):
    """Run in a plain process: the flow sleeps until the quota is back (here the server's
    Retry-After of 2 s), then uploads once."""
    import time

    project = create_project("Bees over quota", en_content, "en")
    cloud["youtube"].fail("insert", 403, reason="quotaExceeded", headers={"Retry-After": "2"})
    started = time.monotonic()
    state = _run(project.id)
    assert state.is_completed(), state.message
    assert state.result().status == "COMPLETED" and time.monotonic() - started >= 2
    assert cloud["youtube"].inserts == 1 and len(cloud["youtube"].requests_for("insert")) == 2
    assert get_project(project.id).status == ProjectStatus.COMPLETED
    r = redis.Redis.from_url(get_settings().redis_url, decode_responses=True)
    messages = [json.loads(f["data"])["message"] for _, f in r.xrange(stream_name(project.id))]
    assert any(m.startswith("YouTube quota used up: waiting") for m in messages), messages


def test_a_failed_narration_part_is_the_error_the_user_sees(cloud, en_content):
    """One part's TTS reply is empty: the project's error is that provider error (code and
    message), not the mix step that could not start because of it."""
    cloud["tts"].enqueue(200, {"audioContent": ""})
    project = create_project("Bees, one part unsaid", en_content, "en")
    state = _run(project.id)
    assert state.is_failed()
    failed = get_project(project.id)
    assert failed.status is ProjectStatus.FAILED
    info = failed.error_info
    assert info["stage"] == "asset_generation"
    assert info["code"] == "TTS_INVALID_RESPONSE", info
    assert "audioContent" in info["message"] and "PENDING" not in info["message"]
    final = json.loads(redis.Redis.from_url(get_settings().redis_url, decode_responses=True).xrevrange(stream_name(project.id), count=1)[0][1]["data"])
    assert final["stage"] == "error" and final["error"]["code"] == "TTS_INVALID_RESPONSE"
