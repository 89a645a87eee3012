"""Crash-proof resume, proven by killing real processes.

One project, every stage on its cloud provider against the fake servers (which run in this
test process and can hold a request unanswered). ``ytmaker run`` runs in its own process
group with its own temporary Prefect server, as a user runs it. At each point where a real
machine can die, the whole process group gets SIGKILL; the next ``ytmaker run`` is the
rerun. Every run continues where the last one died, and the kill points follow the
pipeline, so the finished steps are shared between the cases:

    script call → narration part 3 of 5 → the narration mix → picture 2 of 3 (two Stability
    slots held) → the avatar → mid-encode → the thumbnail → mid-upload (two chunks sent)
    → after YouTube has the whole video, before the project row says so → the last run.

After every rerun the fake servers' call logs must show no repeated call for work that had
finished before the kill (the script, each narration part, each picture, each avatar; what
"finished" means is read from the result storage at the moment of the kill, not assumed),
and over the whole story exactly one ``videos.insert``. At the end the video passes the
ffprobe checks and no concurrency slot or step lock is held — nobody touched Redis or the
Prefect database in between.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pytest
import redis
from PIL import Image

from tests.fakes.did_server import FakeDID
from tests.fakes.gemini_server import FakeGemini
from tests.fakes.stability_server import GENERATE_PATH, FakeStability
from tests.fakes.tts_server import SYNTHESIZE_PATH, FakeTTS
from tests.fakes.youtube_server import UPLOAD_THUMBNAILS, UPLOAD_VIDEOS, FakeYouTube
from tests.media_checks import assert_youtube_ready
from tests.samples import EN_CONTENT
from ytmaker.core.media_types import AvatarClip, ImageAsset, Narration, PartAudio, RenderedVideo, Thumbnail
from ytmaker.core.script import Script

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent
REDIS_URL = "redis://localhost:6379/14"  # this module's own Redis database
GEMINI_KEY, TTS_KEY, STABILITY_KEY, DID_KEY = "gk-fault", "tk-fault", "sk-fault", "user:did-fault"
TIMEOUT = 900  # a kill point not reached by then is a failure, not a hang


@pytest.fixture(scope="module")
def fakes():
    with FakeGemini(api_key=GEMINI_KEY) as gemini, FakeTTS(api_key=TTS_KEY) as tts, \
            FakeStability(api_key=STABILITY_KEY) as stability, FakeDID(api_key=DID_KEY) as did, \
            FakeYouTube() as youtube:
        yield {"gemini": gemini, "tts": tts, "stability": stability, "did": did, "youtube": youtube}


@dataclass
class Finished:
    """What the result storage holds: the steps that had finished."""

    script: Script | None = None
    parts: dict[str, PartAudio] = field(default_factory=dict)
    images: set[int] = field(default_factory=set)
    avatars: set[str] = field(default_factory=set)
    narration: bool = False
    video: bool = False
    thumbnail: bool = False


@dataclass
class Installation:
    root: Path
    fakes: dict[str, Any]
    project_id: int = 0
    runs: int = 0

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "YTMAKER_", "DATABASE_URL"))}
        f = self.fakes
        env.update(
            DATA_DIR=str(self.root / "data"), PREFECT_HOME=str(self.root / "prefect-home"),
            PREFECT_RESULTS_LOCAL_STORAGE_PATH=str(self.root / "results"),
            PREFECT_SERVER_ANALYTICS_ENABLED="false", PREFECT_LOGGING_LEVEL="WARNING",
            PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="90", REDIS_URL=REDIS_URL,
            YTMAKER_MIN_TOTAL_SECONDS="20", YTMAKER_TASK_WORKERS="16", YTMAKER_LOCK_TTL_SECONDS="10",
            YOUTUBE_UPLOAD_CHUNK_BYTES=str(256 * 1024),
            YTMAKER_SCRIPT_PROVIDER="gemini", YTMAKER_TTS_PROVIDER="google", YTMAKER_IMAGE_PROVIDER="stability",
            YTMAKER_AVATAR_PROVIDER="did", YTMAKER_PUBLISH_PROVIDER="youtube",
            GEMINI_API_KEY=GEMINI_KEY, GEMINI_BASE_URL=f["gemini"].base_url,
            GOOGLE_TTS_API_KEY=TTS_KEY, GOOGLE_TTS_BASE_URL=f["tts"].base_url,
            STABILITY_API_KEY=STABILITY_KEY, STABILITY_BASE_URL=f["stability"].url,
            DID_API_KEY=DID_KEY, DID_BASE_URL=f["did"].url,
            YOUTUBE_TOKEN_FILE=str(self.root / "youtube-token.json"), YOUTUBE_BASE_URL=f["youtube"].base_url,
        )
        return env

    def cli(self, *args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "ytmaker.cli", *args], env=self.env, cwd=REPO,
                              capture_output=True, text=True, timeout=TIMEOUT)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def start(self) -> subprocess.Popen:
        self.runs += 1
        log = open(self.root / f"run-{self.runs}.log", "w")  # noqa: SIM115 - closed with the process
        return subprocess.Popen([sys.executable, "-m", "ytmaker.cli", "run", str(self.project_id)],
                                env=self.env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def log(self) -> str:
        return (self.root / f"run-{self.runs}.log").read_text(errors="replace")[-4000:]

    def finished(self) -> Finished:
        from prefect.results import ResultRecord

        found = Finished()
        results = self.root / "results"
        for path in results.iterdir() if results.is_dir() else []:
            if not path.is_file():
                continue
            try:
                value = ResultRecord.deserialize(path.read_bytes()).result
            except Exception:  # noqa: BLE001 - not a result record
                continue
            if isinstance(value, Script):
                found.script = value
            elif isinstance(value, PartAudio):
                found.parts[value.part] = value
            elif isinstance(value, Narration):
                found.narration = True
            elif isinstance(value, RenderedVideo):
                found.video = True
            elif isinstance(value, Thumbnail):
                found.thumbnail = True
            elif isinstance(value, ImageAsset):
                found.images.add(value.segment_index)
            elif isinstance(value, AvatarClip):
                found.avatars.add(value.which)
        return found

    def slots_taken(self) -> dict[str, int]:
        with sqlite3.connect(self.root / "prefect-home" / "prefect.db") as db:
            return dict(db.execute("SELECT name, active_slots FROM concurrency_limit_v2"))


def _wait_for(condition: Callable[[], bool], proc: subprocess.Popen, what: str, installation: Installation,
              every: float = 0.05) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        assert proc.poll() is None, f"the run ended (exit {proc.returncode}) before {what}:\n{installation.log()}"
        assert time.monotonic() < deadline, f"{what} not reached in {TIMEOUT} s:\n{installation.log()}"
        time.sleep(every)


def _kill(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _group_runs(proc: subprocess.Popen, needle: str) -> bool:
    """A process of the run's group whose command line holds ``needle`` is running."""
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            if os.getpgid(int(entry.name)) != proc.pid:
                continue
            cmdline = Path(entry.path, "cmdline").read_bytes()
        except (OSError, ProcessLookupError):
            continue
        if needle.encode() in cmdline:
            return True
    return False


class Progress:
    """The run's progress messages (Redis pub/sub), to kill at a stage."""

    def __init__(self, project_id: int):
        self._pubsub = redis.Redis.from_url(REDIS_URL, decode_responses=True).pubsub()
        self._pubsub.subscribe(f"progress:{project_id}")
        self.seen: list[dict] = []

    def reached(self, stage: str, at_least: float = 0.0) -> bool:
        while (message := self._pubsub.get_message(timeout=0.001)) is not None:
            if message["type"] == "message":
                self.seen.append(json.loads(message["data"]))
        return any(m["stage"] == stage and m["progress"] >= at_least for m in self.seen)

    def close(self) -> None:
        self._pubsub.close()


@dataclass
class CallLog:
    """How many requests each fake had seen when a run started."""

    counts: dict[str, int]

    @classmethod
    def now(cls, fakes: dict[str, Any]) -> "CallLog":
        return cls({name: len(fake.requests) for name, fake in fakes.items()})

    def since(self, fakes: dict[str, Any], name: str) -> list[Any]:
        return list(fakes[name].requests[self.counts[name]:])


def _norm(text: str) -> str:
    return " ".join(text.split())


def assert_nothing_finished_was_redone(fakes: dict[str, Any], before: CallLog, done: Finished) -> None:
    """The calls a rerun made, against what had finished before the kill."""
    gemini = [r for r in before.since(fakes, "gemini") if r.method == "POST"]
    if done.script is not None:
        assert gemini == [], "the finished script was asked for again"
    spoken = {_norm(s.text): name for name, part in done.parts.items() for s in part.sentences}
    for request in before.since(fakes, "tts"):
        if request.path == SYNTHESIZE_PATH and request.json:
            text = _norm(request.json["input"]["text"])
            assert text not in spoken, f"narration part {spoken.get(text)} had finished and was spoken again"
    if done.script is not None:
        descriptions = {s.index: _norm(s.image_description) for s in done.script.segments}
        for request in before.since(fakes, "stability"):
            if request.path == GENERATE_PATH:
                prompt = _norm(request.form.get("prompt", ""))
                index = next((i for i, d in descriptions.items() if prompt.startswith(d[:60])), None)
                assert index is not None, f"a picture request for no segment: {prompt[:80]}"
                assert index not in done.images, f"picture {index} had finished and was requested again"
    talks = [r for r in before.since(fakes, "did") if (r.method, r.path) == ("POST", "/talks")]
    assert len(talks) <= 2 - len(done.avatars), f"avatars {sorted(done.avatars)} had finished; {len(talks)} new talks"


def _inserts(fakes: dict[str, Any]) -> int:
    return sum(1 for r in fakes["youtube"].requests if (r.method, r.path) == ("POST", UPLOAD_VIDEOS))


def _big_logo(path: Path) -> Path:
    """A large logo: the thumbnail decodes and scales it, which takes long enough (tenths of
    a second) to kill the run inside that step every time."""
    Image.linear_gradient("L").resize((7000, 7000)).convert("RGBA").save(path, compress_level=1)
    return path


def test_kill_9_anywhere_and_the_rerun_finishes_without_redoing_finished_work(fakes, tmp_path):
    inst = Installation(tmp_path, fakes)
    fakes["youtube"].write_token_file(tmp_path / "youtube-token.json")
    (tmp_path / "content.txt").write_text(EN_CONTENT, encoding="utf-8")
    out = inst.cli("new", "--name", "Bees, killed and resumed", "--content-file", str(tmp_path / "content.txt"),
                   "--language", "en", "--logo", str(_big_logo(tmp_path / "logo.png")), "--quiet")
    inst.project_id = int(out.strip().splitlines()[-1])
    done = Finished()

    def kill_at(point: str, reach: Callable[[subprocess.Popen, Progress], None],
                holds: list[tuple[str, str, str, int]] = ()) -> Finished:
        """One run: hold the given requests, wait for the kill ``point``, SIGKILL the group;
        check the calls it made against what had finished before it; return what finished now."""
        nonlocal done
        before = CallLog.now(fakes)
        for fake, method, path, nth in holds:
            fakes[fake].hold(method, path, nth)
        progress = Progress(inst.project_id)
        proc = inst.start()
        try:
            reach(proc, progress)
        finally:
            _kill(proc)
            progress.close()
            for fake in fakes.values():
                fake.release_all()
        assert_nothing_finished_was_redone(fakes, before, done)
        done = inst.finished()
        return done

    def held(fake: str, path: str, count: int = 1) -> Callable[[subprocess.Popen, Progress], None]:
        def reach(proc: subprocess.Popen, progress: Progress) -> None:
            gate = next(g for g in fakes[fake]._gates if g.path == path)
            _wait_for(lambda: gate.held >= count, proc, f"{count} held {fake} {path} request(s)", inst)
        return reach

    # 1. During the script call.
    now = kill_at("script", held("gemini", "/v1beta/models"), [("gemini", "POST", "/v1beta/models", 1)])
    assert now.script is None

    # 2. During narration part 3 of 5, once an earlier part has finished (pictures and avatars
    #    are held back: they are later cases).
    def narration_part_3(proc: subprocess.Popen, progress: Progress) -> None:
        gate = fakes["tts"]._gates[0]
        _wait_for(lambda: gate.held >= 1 and len(inst.finished().parts) >= 1, proc, "part 3 with a part done", inst)

    now = kill_at("narration", narration_part_3, [
        ("tts", "POST", SYNTHESIZE_PATH, 3), ("stability", "POST", GENERATE_PATH, 1), ("did", "POST", "/audios", 1)])
    assert now.script is not None and 0 < len(now.parts) < 5

    # 3. During the mix of the narration: its encoder is running.
    now = kill_at("mix", lambda proc, _: _wait_for(lambda: _group_runs(proc, "full_audio"), proc, "the mix", inst,
                                                   every=0.005),
                  [("stability", "POST", GENERATE_PATH, 1), ("did", "POST", "/audios", 1)])
    assert len(now.parts) == 5 and not now.narration

    # 4. During picture 2 of 3, with two Stability slots taken.
    def picture_2_of_3(proc: subprocess.Popen, progress: Progress) -> None:
        gate = fakes["stability"]._gates[0]
        _wait_for(lambda: gate.held >= 2 and len(inst.finished().images) >= 1, proc, "pictures held", inst)

    now = kill_at("pictures", picture_2_of_3, [
        ("stability", "POST", GENERATE_PATH, 2), ("did", "POST", "/audios", 1)])
    assert len(now.images) == 1
    assert inst.slots_taken().get("stability-concurrency", 0) >= 2, "the killed run held Stability slots"
    listed = inst.cli("doctor", "--dry-run")  # what a user sees: the dead run's leases, not yet expired
    taken = inst.slots_taken()["stability-concurrency"]
    assert f"stability-concurrency: {taken}/4 slots taken" in listed and listed.count("expires in") >= taken, listed

    # 5. During the avatar (D-ID has the talk request), once the pictures are done.
    def avatar(proc: subprocess.Popen, progress: Progress) -> None:
        gate = fakes["did"]._gates[0]
        _wait_for(lambda: gate.held >= 1 and len(inst.finished().images) == 3, proc, "the avatar", inst)

    now = kill_at("avatar", avatar, [("did", "POST", "/talks", 1)])
    assert now.images == {1, 2, 3} and not now.avatars

    # 6. Mid-encode.
    now = kill_at("render", lambda proc, progress: _wait_for(
        lambda: progress.reached("video_rendering", at_least=30), proc, "the render at 30 %", inst))
    assert now.avatars == {"intro", "outro"} and not now.video

    # 7. During the thumbnail.
    now = kill_at("thumbnail", lambda proc, progress: _wait_for(
        lambda: progress.reached("thumbnail_generation"), proc, "the thumbnail", inst, every=0.002))
    assert now.video and not now.thumbnail, "the kill landed inside the thumbnail step"

    # 8. Mid-upload: the first chunk is in, the second on its way.
    now = kill_at("upload", held("youtube", UPLOAD_VIDEOS), [("youtube", "PUT", UPLOAD_VIDEOS, 2)])
    assert now.thumbnail and _inserts(fakes) == 1

    # 9. YouTube has the whole video; the thumbnail call is in flight, the project row not updated.
    kill_at("after upload", held("youtube", UPLOAD_THUMBNAILS), [("youtube", "POST", UPLOAD_THUMBNAILS, 1)])
    shown = json.loads(inst.cli("show", str(inst.project_id)))
    assert shown["status"] == "UPLOADING" and not shown.get("youtube_video_id")

    # The last run finishes by itself.
    before = CallLog.now(fakes)
    proc = inst.start()
    assert proc.wait(timeout=TIMEOUT) == 0, inst.log()
    assert_nothing_finished_was_redone(fakes, before, done)
    assert _inserts(fakes) == 1, "exactly one videos.insert over every run"
    shown = json.loads(inst.cli("show", str(inst.project_id)))
    assert shown["status"] == "COMPLETED" and shown["youtube_video_id"]
    video = inst.root / "data" / "projects" / str(inst.project_id) / "output" / "final_video.mp4"
    final = inst.finished()
    narration = sum(p.frames for p in final.parts.values()) / 30
    assert_youtube_ready(video, narration)

    # Nothing is left held: no step lock, and no Stability slot once the killed runs' leases
    # have expired (60 s after their last renewal; the reruns may all be over sooner). Then
    # whoever runs next gives the slots back; here `ytmaker doctor`, as a user would.
    deadline = time.monotonic() + 120
    while inst.slots_taken().get("stability-concurrency", 0) and time.monotonic() < deadline:
        inst.cli("doctor")
        time.sleep(5)
    assert inst.slots_taken().get("stability-concurrency", 0) == 0
    from ytmaker.core.settings import Settings

    namespace = Settings(data_dir=inst.root / "data").namespace  # this installation's lock keys
    assert list(redis.Redis.from_url(REDIS_URL).scan_iter(match=f"ytmaker:{namespace}:lock:*")) == []
