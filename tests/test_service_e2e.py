"""ytmaker as a service, end to end: a real Prefect server (on PostgreSQL), deployments from
prefect.yaml, real process workers, the app DB on PostgreSQL and Redis with a password
(``tests/service.py``). The tests share one service and run in file order; the last one
kills a worker."""

from __future__ import annotations

import json
import time
from collections import defaultdict
from pathlib import Path
from uuid import UUID

import pytest
import redis

from tests.samples import EN_CONTENT
from tests.media_checks import assert_youtube_ready
from tests.service import Service, processes_with, start_service, wait_for
from ytmaker.media.ffmpeg import media_duration

pytestmark = pytest.mark.slow
_made: dict[str, int] = {}  # projects earlier tests finished, for later ones to reuse


@pytest.fixture(scope="module")
def service(tmp_path_factory) -> Service:
    svc = start_service(tmp_path_factory.mktemp("service"))
    try:
        with svc.as_client():
            _pause_schedules("recover-flow/every-10-minutes")
            yield svc
    finally:
        svc.close()


def _pause_schedules(deployment_name: str) -> None:
    """The tests start recovery themselves: a scheduled recover-flow run firing in the
    middle of one (every 10 minutes) would race them."""
    from prefect import get_client

    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name(deployment_name)
        for schedule in deployment.schedules:
            client.update_deployment_schedule(deployment.id, schedule.id, active=False)


def _project(name: str, content: str = EN_CONTENT) -> int:
    from data import create_project

    return create_project(name, content, "en").id


def _flow_run(run_id: str | UUID):
    from prefect import get_client

    with get_client(sync_client=True) as client:
        return client.read_flow_run(UUID(str(run_id)))


def _task_runs(*flow_run_ids: str | UUID) -> list:
    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with get_client(sync_client=True) as client:
        return client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[UUID(str(i)) for i in flow_run_ids])))


def _wait_final(run_id: str | UUID, timeout: float = 240):
    return wait_for(lambda: (r := _flow_run(run_id)).state.is_final() and r, timeout, f"flow run {run_id} to finish", 0.5)


def _video_run(project_id: int, **job_env: str) -> str:
    from prefect.deployments import run_deployment

    run = run_deployment("video-flow/default", parameters={"project_id": project_id}, timeout=0,
                         job_variables={"env": job_env} if job_env else None)
    return str(run.id)


def _progress(service: Service, project_id: int) -> list[dict]:
    client = redis.Redis.from_url(service.redis_url, decode_responses=True)
    return [json.loads(f["data"]) for _, f in client.xrange(f"progress-log:{project_id}")]


def test_deployment_run_makes_a_video_and_shows_it_in_the_ui(service):
    from prefect import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    from data import ProjectStatus, get_project, last_project_run

    project_id = _project("bees by deployment")
    _made["video"] = project_id
    result = service.run("prefect", "deployment", "run", "video-flow/default", "--param", f"project_id={project_id}",
                         "--watch", timeout=300)
    assert "Completed" in result.stdout, result.stdout[-2000:]
    project = get_project(project_id)
    assert project.status is ProjectStatus.COMPLETED and project.youtube_video_id
    video = Path(service.env["DATA_DIR"]) / "projects" / str(project_id) / "output" / "final_video.mp4"
    assert_youtube_ready(video, media_duration(video.parent.parent / "audio" / "full_audio.mp3"))

    run_id = last_project_run(project_id)
    assert _flow_run(run_id).deployment_id is not None
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[UUID(run_id)])))
    kinds = {a.key: a.type for a in artifacts}
    assert kinds == {f"project-{project_id}-script": "table", f"project-{project_id}-progress": "progress",
                     f"project-{project_id}-video": "markdown", f"project-{project_id}-results": "markdown"}, kinds
    progress = next(a for a in artifacts if a.type == "progress")
    assert float(progress.data) == 100.0
    messages = _progress(service, project_id)
    assert messages[-1]["final"] and messages[-1]["status"] == "COMPLETED"


def test_deploy_is_idempotent_and_sets_the_queue_limits(service):
    from prefect import get_client

    def snapshot():
        with get_client(sync_client=True) as client:
            pool = client.read_work_pool("ytmaker")
            queues = {q.name: (q.concurrency_limit, q.priority) for q in client.read_work_queues(work_pool_name="ytmaker")}
            deployments = sorted(f"{client.read_flow(d.flow_id).name}/{d.name}" for d in client.read_deployments())
            limits = {lim.name: lim.limit for lim in client.read_global_concurrency_limits()}
        return pool.type, queues, deployments, limits

    before = snapshot()
    service.run("ytmaker", "deploy", timeout=180)
    assert snapshot() == before
    pool_type, queues, deployments, limits = before
    assert pool_type == "process"
    assert {k: v[0] for k, v in queues.items() if k != "default"} == {
        "video_generation": 2, "batch_processing": 1, "maintenance": 1}
    assert deployments == ["batch-flow/default", "cleanup-flow/daily", "quota-flow/hourly",
                           "recover-flow/every-10-minutes", "regenerate-image-flow/default", "video-flow/default"]
    assert limits == {"stability-requests": 150, "stability-concurrency": 4}


def test_batch_deployment_spreads_projects_over_workers_and_reports_partial(service):
    from data import BatchStatus, get_batch, get_project

    # The first test's project is done: in the batch it comes from the cache.
    good = [_made.get("video") or _project("bees batch a"), _project("bees batch b")]
    bad = _project("too short", "Bees make honey.")  # a 2 s script: refused by validation
    ids = [good[0], bad, good[1]]
    result = service.run("prefect", "deployment", "run", "batch-flow/default", "--param", f"project_ids={json.dumps(ids)}",
                         "--watch", timeout=400)
    assert "Completed" in result.stdout, result.stdout[-2000:]

    from prefect import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterName
    from prefect.client.schemas.sorting import FlowRunSort

    batch_id = get_project(good[0]).batch_id
    batch = get_batch(batch_id)
    assert (batch.status, batch.total, batch.completed, batch.failed) == (BatchStatus.PARTIAL, 3, 2, 1)
    assert get_project(bad).status.value == "FAILED" and get_project(bad).error_info["code"] == "SCRIPT_INVALID"
    # each project ran as its own run of the video deployment, not inside the batch's process
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=["default"])),
                                     sort=FlowRunSort.START_TIME_DESC, limit=50)
    video_runs = {r.parameters.get("project_id") for r in runs if r.parameters.get("project_id") in ids}
    assert video_runs == set(ids)
    final = [m for m in _progress(service, f"batch:{batch_id}") if m.get("final")]
    assert final and final[-1]["completed"] == 2 and final[-1]["failed"] == 1


def test_same_project_started_twice_computes_each_step_once(service):
    project_id = _project("bees twice")
    first, second = _video_run(project_id), _video_run(project_id)
    assert _wait_final(first).state.is_completed() and _wait_final(second).state.is_completed()

    # Every step ran in both flow runs; each was computed in exactly one of them and taken
    # from the cache (after waiting for the other run's lock) in the other.
    states: dict[str, list[str]] = defaultdict(list)
    for task_run in _task_runs(first, second):
        states[task_run.name.rsplit("-", 1)[0]].append(task_run.state.name)
    assert set(states) == {"write-script", "narrate-part", "draw-image", "make-avatar", "mix-narration",
                           "render-video", "make-thumbnail", "publish-video"}
    for kind, seen in states.items():
        assert set(seen) == {"Completed", "Cached"} and seen.count("Completed") == seen.count("Cached"), (kind, seen)
    published = list((Path(service.env["DATA_DIR"]) / "published").glob("*/metadata.json"))
    assert sum(json.loads(p.read_text()).get("project_id") == project_id for p in published) == 1


def test_quota_flow_writes_its_keys(service):
    from ytmaker.runtime.quota import record_youtube_call

    record_youtube_call("videos.insert")  # in the shared app database the workers read
    record_youtube_call("thumbnails.set")
    service.run("prefect", "deployment", "run", "quota-flow/hourly", "--watch", timeout=120)
    client = redis.Redis.from_url(service.redis_url, decode_responses=True)
    report = json.loads(client.get("quota:youtube"))
    assert report["provider"] == "youtube" and report["limit"] == 10_000 and report["used"] == 1650
    assert 0 < client.ttl("quota:youtube") <= 3600
    # no D-ID/Stability keys on these workers: those providers are skipped, not written
    assert client.get("quota:did") is None and client.get("quota:stability") is None


def test_scheduler_created_the_hourly_quota_runs(service):
    from prefect import get_client
    from prefect.client.schemas.filters import (
        DeploymentFilter, DeploymentFilterId, FlowRunFilter, FlowRunFilterState, FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType

    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name("quota-flow/hourly")
        assert [s.schedule.cron for s in deployment.schedules] == ["0 * * * *"]

        def scheduled():
            return client.read_flow_runs(
                deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment.id])),
                flow_run_filter=FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.SCHEDULED]))),
            )

        runs = wait_for(lambda: len(scheduled()) >= 2 and scheduled(), 60, "scheduled quota runs", 1)
    times = sorted(r.expected_start_time for r in runs)
    assert all(t.minute == 0 and t.second == 0 for t in times)
    assert all((b - a).total_seconds() == 3600 for a, b in zip(times, times[1:]))


def _held_locks(service: Service) -> list:
    from tasks.locking import lock_manager

    return lock_manager(service.redis_url, 90).held_locks()


def _start_slow_render(service: Service, name: str) -> tuple[int, str, str]:
    """A deployment run caught in its render: (project id, flow run id, project directory)."""
    from data import ProjectStatus, get_project

    project_id = _project(name)
    # The slowest x264 preset makes the render last long enough to be caught in the middle.
    run_id = _video_run(project_id, YTMAKER_X264_PRESET="placebo")
    project_dir = str(Path(service.env["DATA_DIR"]) / "projects" / str(project_id))
    wait_for(lambda: get_project(project_id).status is ProjectStatus.RENDERING and processes_with(project_dir + "/work"),
             180, "the render's encoder to start")
    return project_id, run_id, project_dir


def test_cancel_mid_render_kills_ffmpeg_marks_cancelled_and_a_rerun_resumes(service):
    from data import ProjectStatus, get_project

    project_id, run_id, project_dir = _start_slow_render(service, "bees cancelled")
    time.sleep(1)
    service.run("prefect", "flow-run", "cancel", run_id)
    state = _wait_final(run_id, 60).state
    assert state.is_cancelled(), state
    wait_for(lambda: get_project(project_id).status is ProjectStatus.CANCELLED, 30, "the project to be CANCELLED")
    # The render was cut off, not waited out (the placebo encode takes far longer than the
    # waits above allow): it never completed and wrote no video.
    cancelled = {t.name.rsplit("-", 1)[0]: t.state.name for t in _task_runs(run_id)}
    assert cancelled["render-video"] != "Completed", cancelled
    assert not (Path(project_dir) / "output" / "final_video.mp4").exists()
    wait_for(lambda: not processes_with(project_dir), 15, "the project's ffmpeg/TTS processes to be gone")
    final = [m for m in _progress(service, project_id) if m.get("final")]
    assert final and final[-1]["status"] == "CANCELLED"

    rerun = _video_run(project_id)
    assert _wait_final(rerun).state.is_completed()
    states = {t.name.rsplit("-", 1)[0]: t.state.name for t in _task_runs(rerun)}
    assert states["write-script"] == "Cached" and states["mix-narration"] == "Cached"
    assert states["render-video"] == "Completed"
    assert get_project(project_id).status is ProjectStatus.COMPLETED


def test_upload_over_quota_is_rescheduled_as_a_new_run_after_the_reset(service, tmp_path):
    from tests.fakes.youtube_server import FakeYouTube

    from data import ProjectStatus, get_project

    project_id = _project("bees over quota")
    with FakeYouTube() as youtube:
        youtube.fail("insert", 403, reason="quotaExceeded", headers={"Retry-After": "3"})
        token = youtube.write_token_file(tmp_path / "token.json")
        first = _video_run(project_id, YTMAKER_PUBLISH_PROVIDER="youtube", YOUTUBE_TOKEN_FILE=str(token),
                           YOUTUBE_BASE_URL=youtube.base_url)
        assert _wait_final(first).state.is_completed()  # the run ends well: it handed over
        project = get_project(project_id)
        assert project.status is ProjectStatus.WAITING_FOR_QUOTA and youtube.inserts == 0
        details = project.error_info["details"]
        nxt = _flow_run(details["next_flow_run_id"])
        assert nxt.deployment_id == _flow_run(first).deployment_id and nxt.parameters == {"project_id": project_id}
        assert nxt.job_variables["env"]["YTMAKER_PUBLISH_PROVIDER"] == "youtube"

        assert _wait_final(nxt.id).state.is_completed()
        assert youtube.inserts == 1 and get_project(project_id).status is ProjectStatus.COMPLETED
        assert get_project(project_id).youtube_video_id == youtube.only_video().id
        states = {t.name.rsplit("-", 1)[0]: t.state.name for t in _task_runs(nxt.id)}
        assert states["render-video"] == "Cached" and states["publish-video"] == "Completed"


def test_recover_restarts_a_project_whose_worker_was_killed(service):
    from data import ProjectStatus, get_project, last_project_run

    project_id, run_id, project_dir = _start_slow_render(service, "bees recovered")
    owner = next(name for name in service.workers if run_id in service.worker_log(name))
    service.kill_worker(owner)
    # SIGKILLed processes still need a moment to be gone on a loaded machine.
    assert wait_for(lambda: not processes_with(project_dir), 20, "the killed run's processes to be gone")

    # Nothing is beating for the project any more: after three missed beats it is interrupted.
    listed = wait_for(lambda: str(project_id) in service.run("ytmaker", "recover", "--how", "none").stdout and True,
                      30, "the project to be seen as interrupted")
    assert listed
    held = _held_locks(service)
    assert [lock for lock in held if lock.holder_is_dead()], f"the killed run's render lock should still be held: {held}"
    out = service.run("ytmaker", "recover").stdout
    assert f"project {project_id} (RENDERING): deployment" in out, out
    new_run = out.split(f"project {project_id} (RENDERING): deployment", 1)[1].split()[0]
    assert "freed" in out  # the dead run's render lock: the new run need not wait out its hold
    assert not [held for held in _held_locks(service) if held.holder_is_dead()]
    assert _flow_run(run_id).state.name == "Crashed"
    assert _wait_final(new_run, 150).state.is_completed()
    assert get_project(project_id).status is ProjectStatus.COMPLETED
    assert last_project_run(project_id) == new_run
    # a second pass finds nothing to do
    assert "No interrupted projects" in service.run("ytmaker", "recover").stdout
    service.start_worker(owner)
