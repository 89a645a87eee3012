"""video_flow end to end on real Prefect (test harness), real Redis and real ffmpeg."""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import event

from data import AssetStatus, AssetType, ProjectStatus, create_project, get_project, list_assets, update_project
from data.models import Project
from tests.flow_runs import FailingImages as _FailingImages
from tests.flow_runs import calls_since as _calls
from tests.flow_runs import five_segments as _five_segments
from tests.flow_runs import run as _run
from tests.media_checks import assert_youtube_ready
from ytmaker import providers
from ytmaker.core.stages import PIPELINE
from ytmaker.runtime.progress_bus import subscribe_progress

from prefect import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

from tasks.caching import result_is_true

pytestmark = pytest.mark.usefixtures("prefect_harness")

STAGE_ORDER = [stage.name for stage in PIPELINE]


class _StatusLog:
    """Every status a project is given, in order (SQLAlchemy attribute events)."""

    def __init__(self):
        self.seen: dict[int, list[ProjectStatus]] = {}

    def __call__(self, target, value, oldvalue, initiator):  # noqa: ANN001
        if target.id is not None:
            self.seen.setdefault(target.id, []).append(ProjectStatus(value))


@pytest.fixture(scope="module")
def status_log():
    log = _StatusLog()
    event.listen(Project.status, "set", log)
    yield log
    event.remove(Project.status, "set", log)


@pytest.fixture(scope="module")
def zh_run(prefect_harness, status_log, tmp_path_factory):
    """A Traditional Chinese project with a logo, run once while a subscriber listens."""
    from tests.samples import ZH_CONTENT

    logo = tmp_path_factory.mktemp("logo") / "logo.png"
    Image.new("RGBA", (300, 150), (0, 200, 255, 255)).save(logo)
    project = create_project("台北一零一", ZH_CONTENT, "zh-TW", logo_path=logo)
    live: list[dict] = []
    ready = threading.Event()

    def listen():
        stream = subscribe_progress(project.id, replay=False, timeout=300)
        ready.set()
        live.extend(stream)

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    ready.wait(5)
    before = dict(providers.provider_calls)
    state = _run(project.id)
    listener.join(60)
    return {"project": project, "state": state, "live": live, "calls": _calls(before)}


def test_zh_project_makes_a_real_video(zh_run):
    assert zh_run["state"].is_completed(), zh_run["state"].message
    result = zh_run["state"].result()
    project = get_project(zh_run["project"].id)
    assert result.status == "COMPLETED" and project.status == ProjectStatus.COMPLETED
    assert result.video_id == project.youtube_video_id and result.video_url == project.video_url
    script = project.script
    video = Path(result.video_path)
    assert video.name == "final_video.mp4" and video.parent.name == "output"
    narration = Path(video.parent.parent / "audio" / "full_audio.mp3")
    from ytmaker.media.ffmpeg import media_duration

    assert_youtube_ready(video, media_duration(narration))
    assert result.duration_seconds == pytest.approx(media_duration(narration), rel=0.02)
    root = video.parent.parent
    for i in range(1, len(script["segments"]) + 1):
        with Image.open(root / "images" / f"segment_{i:02d}.png") as img:
            assert img.size == (1920, 1080)
    assert (root / "avatars" / "intro.mp4").exists() and (root / "avatars" / "outro.mp4").exists()
    # Published locally with the metadata YouTube would get.
    published = Path(result.video_url.removeprefix("file://")).parent
    meta = json.loads((published / "metadata.json").read_text(encoding="utf-8"))
    assert meta["snippet"]["title"] == "台北一零一" and meta["status"]["containsSyntheticMedia"] is True
    assert (published / "video.mp4").stat().st_size == video.stat().st_size


def test_thumbnail_is_a_1280x720_jpeg(zh_run):
    thumb = Path(zh_run["state"].result().thumbnail_path)
    with Image.open(thumb) as img:
        assert img.format == "JPEG" and img.size == (1280, 720)


def test_every_asset_is_recorded(zh_run):
    project = get_project(zh_run["project"].id)
    assets = list_assets(project.id)
    kinds = [a.type for a in assets]
    segments = len(project.script["segments"])
    assert kinds.count(AssetType.IMAGE) == segments
    for kind in (AssetType.AUDIO, AssetType.AVATAR_INTRO, AssetType.AVATAR_OUTRO, AssetType.FINAL_VIDEO, AssetType.THUMBNAIL):
        assert kinds.count(kind) == 1
    assert all(a.status == AssetStatus.COMPLETED and Path(a.path).exists() for a in assets)


def test_status_moves_through_every_stage(zh_run, status_log):
    assert status_log.seen[zh_run["project"].id] == [
        ProjectStatus.SCRIPT_GENERATING, ProjectStatus.SCRIPT_GENERATED,
        ProjectStatus.ASSETS_GENERATING, ProjectStatus.ASSETS_GENERATED,
        ProjectStatus.RENDERING, ProjectStatus.RENDERED,
        ProjectStatus.THUMBNAIL_GENERATING, ProjectStatus.THUMBNAIL_GENERATED,
        ProjectStatus.UPLOADING, ProjectStatus.COMPLETED,
    ]


def _check_progress(messages: list[dict], project_id: int) -> None:
    assert messages, "no progress message received"
    for m in messages:
        assert {"project_id", "stage", "progress", "message", "timestamp"} <= m.keys()
        assert m["project_id"] == project_id
    stages = [m["stage"] for m in messages]
    firsts = [stages.index(s) for s in STAGE_ORDER]
    assert firsts == sorted(firsts), stages  # stages come in pipeline order
    for stage in STAGE_ORDER:
        values = [m["progress"] for m in messages if m["stage"] == stage]
        assert values[0] == 0 and values[-1] == 100 and values == sorted(values), (stage, values)
        assert max(i for i, s in enumerate(stages) if s == stage) < min(
            (i for i, s in enumerate(stages) if STAGE_ORDER.index(s) > STAGE_ORDER.index(stage)), default=len(stages)
        )
    assert messages[-1]["final"] is True and messages[-1]["status"] == "COMPLETED"


def test_live_subscriber_gets_progress_in_order(zh_run):
    _check_progress(zh_run["live"], zh_run["project"].id)
    asset_steps = [m for m in zh_run["live"] if m["stage"] == "asset_generation"]
    assert len(asset_steps) > 5  # one message per finished narration part, picture and avatar


def test_late_subscriber_replays_the_history(zh_run):
    replayed = list(subscribe_progress(zh_run["project"].id, replay=True, timeout=5))
    _check_progress(replayed, zh_run["project"].id)
    assert [m["id"] for m in replayed] == [m["id"] for m in zh_run["live"]]


def test_rerun_of_a_finished_project_does_no_work(zh_run):
    before = dict(providers.provider_calls)
    state = _run(zh_run["project"].id)
    assert state.is_completed()
    assert _calls(before) == {}
    assert state.result().video_id == zh_run["state"].result().video_id
    assert zh_run["calls"]["image"] == len(get_project(zh_run["project"].id).script["segments"])


def test_english_project(en_content):
    project = create_project("How honeybees work", en_content, "en")
    state = _run(project.id)
    assert state.is_completed(), state.message
    result = state.result()
    assert result.status == "COMPLETED"
    from ytmaker.media.ffmpeg import media_duration

    audio = Path(result.video_path).parent.parent / "audio" / "full_audio.mp3"
    assert_youtube_ready(Path(result.video_path), media_duration(audio))


def test_failure_at_image_3_then_rerun_redoes_only_what_is_unfinished(env, status_log):
    env(YTMAKER_IMAGE_PROVIDER="test-failing")
    project = create_project("Five places", _five_segments(), "en")
    _FailingImages.fail = {3}
    first = _run(project.id)
    assert first.is_failed()
    failed = get_project(project.id)
    assert failed.status == ProjectStatus.FAILED
    assert failed.error_info["stage"] == "asset_generation" and "refused segment 3" in failed.error_info["message"]
    segments = len(failed.script["segments"])
    assert segments == 5
    images = {a.segment_index: a for a in list_assets(project.id) if a.type == AssetType.IMAGE}
    assert images[3].status == AssetStatus.FAILED and "refused" in images[3].error
    finished = [i for i, a in images.items() if a.status == AssetStatus.COMPLETED]
    assert 3 not in finished and not (Path(failed.script and images[3].path or "/nonexistent")).exists()

    _FailingImages.fail = set()
    before = dict(providers.provider_calls)
    second = _run(project.id)
    assert second.is_completed(), second.message
    calls = _calls(before)
    assert calls.get("image") == segments - len(finished)  # only the unfinished pictures
    assert "script" not in calls and "tts" not in calls  # finished steps come from the cache
    assert get_project(project.id).status == ProjectStatus.COMPLETED
    assert get_project(project.id).error_info is None


def test_editing_the_content_redoes_only_what_it_changes():
    content = _five_segments()
    project = create_project("Five places (edit)", content, "en")
    first = _run(project.id)
    assert first.is_completed()
    first_duration = first.result().duration_seconds
    edited = content.replace("past the old bridge", "past the stone bridge")
    update_project(project.id, content=edited)
    before = dict(providers.provider_calls)
    state = _run(project.id)
    assert state.is_completed(), state.message
    calls = _calls(before)
    assert calls.get("script") == 1
    assert calls.get("image") == 1  # segment 2's picture: its description changed
    assert calls.get("tts") == 2  # the two sentences of segment 2, nothing else
    assert "avatar" not in calls  # intro and outro did not change
    assert calls.get("publish") == 1  # a new video

    # Back to the first text. A's results are stored, but the files on disk are B's now: they
    # are not trusted; segment 2 is spoken and drawn again, nothing else.
    update_project(project.id, content=content)
    before = dict(providers.provider_calls)
    back = _run(project.id)
    assert back.is_completed(), back.message
    calls = _calls(before)
    assert calls.get("tts") == 2 and calls.get("image") == 1 and "script" not in calls and "avatar" not in calls
    assert back.result().duration_seconds == first_duration  # A's narration under A's timeline
    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[back.state_details.flow_run_id])))
    for run in runs:  # every file a step of this run hands back is the file it describes
        assert result_is_true(run.state.result()), run.name


def test_validation_failure_names_the_limit(env):
    env(YTMAKER_MIN_TOTAL_SECONDS="180")
    project = create_project("Too short", "Only one short sentence here.", "en")
    state = _run(project.id)
    assert state.is_failed()
    info = get_project(project.id).error_info
    assert info["stage"] == "script_generation" and info["code"] == "SCRIPT_INVALID"
    assert "180-600 s" in info["message"] and f"Project {project.id}" in info["message"]
    assert get_project(project.id).status == ProjectStatus.FAILED


def test_segment_violation_names_segment_and_duration(env):
    env(YTMAKER_MAX_SEGMENT_SECONDS="8", YTMAKER_MIN_TOTAL_SECONDS="1")
    long_sentence = "Bees " + "really " * 30 + "love flowers."
    project = create_project("Long sentence", "Short start here now.\n\n" + long_sentence, "en")
    state = _run(project.id)
    assert state.is_failed()
    info = get_project(project.id).error_info
    violation = next(v for v in info["details"]["violations"] if v.get("segment_index"))
    assert violation["field"] == "duration" and violation["value"] > 8
    assert f"segment {violation['segment_index']} duration {violation['value']}" in info["message"]
    messages = list(subscribe_progress(project.id, replay=True, timeout=3))
    assert messages[-1]["stage"] == "error" and messages[-1]["error"]["code"] == "SCRIPT_INVALID"


def test_missing_project_fails_clearly():
    state = _run(987654)
    assert state.is_failed()
    with pytest.raises(Exception, match="Project 987654 does not exist"):
        state.result()


def test_redis_down_still_makes_the_video_with_one_warning(env, caplog):
    env(REDIS_URL="redis://127.0.0.1:1/0")
    project = create_project("No Redis", _five_segments(), "en")
    with caplog.at_level(logging.WARNING, logger="ytmaker.progress"):
        state = _run(project.id)
    assert state.is_completed(), state.message
    warnings = [r for r in caplog.records if r.name == "ytmaker.progress" and r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "Redis" in warnings[0].getMessage()
    assert get_project(project.id).status == ProjectStatus.COMPLETED


def test_a_refused_picture_is_a_placeholder_and_a_rerun_retries_it(env):
    env(YTMAKER_IMAGE_PROVIDER="test-failing")
    project = create_project("Five places (refused)", _five_segments(), "en")
    _FailingImages.refuse = {4}
    try:
        state = _run(project.id)
    finally:
        _FailingImages.refuse = set()
    assert state.is_completed(), state.message
    result = state.result()
    assert result.status == "partial_success"
    assert result.errors == [{"asset_type": "IMAGE", "segment_index": 4, "code": "STABILITY_CONTENT_POLICY",
                                 "error": result.errors[0]["error"]}]
    record = get_project(project.id)
    assert record.status == ProjectStatus.COMPLETED and record.error_info["code"] == "PARTIAL_SUCCESS"
    image_4 = next(a for a in list_assets(project.id) if a.type == AssetType.IMAGE and a.segment_index == 4)
    assert image_4.status == AssetStatus.FAILED
    assert Path(result.video_path).exists()

    before = dict(providers.provider_calls)
    again = _run(project.id)
    assert again.is_completed() and again.result().status == "COMPLETED"
    assert _calls(before).get("image") == 1  # only the refused picture is tried again
    assert get_project(project.id).error_info is None


def test_more_than_a_fifth_refused_fails_the_stage(env):
    env(YTMAKER_IMAGE_PROVIDER="test-failing")
    project = create_project("Five places (two refused)", _five_segments(), "en")
    _FailingImages.refuse = {2, 4}
    try:
        state = _run(project.id)
    finally:
        _FailingImages.refuse = set()
    assert state.is_failed()
    info = get_project(project.id).error_info
    assert info["code"] == "IMAGES_FAILED" and info["stage"] == "asset_generation"
    assert [e["segment_index"] for e in info["details"]["errors"]] == [2, 4]


def test_the_run_shows_its_script_progress_and_links_in_the_ui(zh_run):
    from prefect import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    pid = zh_run["project"].id
    with get_client(sync_client=True) as client:
        def latest(what: str):
            found = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[f"project-{pid}-{what}"])))
            assert found, what
            return found[0]

        script = latest("script")
        progress = latest("progress")
        video = latest("video")
        results = latest("results")
    assert script.type == "table" and "segment 1" in str(script.data)
    assert progress.type == "progress" and float(progress.data) == 100.0
    assert video.type == "markdown" or zh_run["state"].result().video_url in str(video.data)
    assert zh_run["state"].result().video_url in str(video.data)
    assert "final_video.mp4" in str(results.data)
