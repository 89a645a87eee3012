"""Whole-pipeline benchmark: ``make bench``.

1. The 5-minute Traditional Chinese sample end to end with the local providers, as a user
   runs it (``ytmaker run`` in its own process, a temporary Prefect server): the wall time
   of each stage (from the progress stream), the render's rtf, the largest process's peak
   memory.
2. The cached rerun: ``ytmaker run`` again, without a server and with a running
   ``prefect server``: wall time and provider calls (every step must come from the cache).
3. Fan-out: the asset stage with the cloud providers behind fake servers with fixed
   latencies (12 pictures of 2 s each, 4 at once): the pictures' wall time against the ideal
   ceil(N/C) x L, and the stage against its critical path.

Every figure is measured in this run on this machine; nothing is asserted. Outputs go to
``benchmarks/out/pipeline`` (removed first).
"""

from __future__ import annotations

import json
import math
import os
import re
import resource
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
OUT = REPO / "benchmarks" / "out" / "pipeline"
SAMPLE = REPO / "data" / "samples" / "taipei-101.zh-TW.txt"
YTMAKER = [sys.executable, "-m", "ytmaker.cli"]
STAGES = ("script_generation", "asset_generation", "video_rendering", "thumbnail_generation", "youtube_upload")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "YTMAKER_")) and k not in ("DATA_DIR", "DATABASE_URL")}
    env.update(DATA_DIR=str(OUT / "data"), PREFECT_HOME=str(OUT / "prefect-home"),
               PREFECT_RESULTS_LOCAL_STORAGE_PATH=str(OUT / "data" / "results"), **extra)
    return env


def _ytmaker(*args: str, env: dict[str, str], timeout: float = 1800) -> tuple[str, float]:
    started = time.monotonic()
    done = subprocess.run([*YTMAKER, *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=timeout)
    took = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"ytmaker {' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done.stdout, took


def _stage_stamps(project_id: int, redis_url: str) -> dict[str, list[float]]:
    """When each stage's progress messages were published (from the project's Redis stream)."""
    import redis

    client = redis.Redis.from_url(redis_url, decode_responses=True)
    stamps: dict[str, list[float]] = {}
    for _, fields in client.xrange(f"progress-log:{project_id}"):
        message = json.loads(fields["data"])
        stamps.setdefault(message["stage"], []).append(datetime.fromisoformat(message["timestamp"]).timestamp())
    return stamps


def _stage_seconds(project_id: int, redis_url: str) -> dict[str, float]:
    return {stage: max(t) - min(t) for stage, t in _stage_stamps(project_id, redis_url).items() if stage in STAGES}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _with_server(env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    api = f"http://127.0.0.1:{port}/api"
    prefect = Path(sys.executable).with_name("prefect")
    server_env = {**env, "PREFECT_HOME": str(OUT / "server-home"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
                  "PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE": "prefect.server.concurrency.lease_storage.filesystem"}
    proc = subprocess.Popen([str(prefect), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                            env=server_env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{api}/health", timeout=2) as reply:
                if reply.status == 200:
                    return proc, api
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise SystemExit("prefect server did not start within 180 s")


def local_end_to_end() -> dict[str, object]:
    from ytmaker.core.settings import get_settings

    env = _env()
    out, _ = _ytmaker("new", "--name", "台北一零一 (bench)", "--content-file", str(SAMPLE), "--language", "zh-TW",
                      "--quiet", env=env)
    project_id = int(out.strip())
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    out, first = _ytmaker("run", str(project_id), env=env)
    peak_mb = max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024
    seconds = float(re.search(r"\(([\d.]+) s\)", out).group(1))
    stages = _stage_seconds(project_id, get_settings().redis_url)

    out, rerun = _ytmaker("run", str(project_id), env=env)
    calls = re.search(r"provider calls this run: (.*)", out).group(1)
    server, api = _with_server(env)
    try:
        with_server = [_ytmaker("run", str(project_id), env={**env, "PREFECT_API_URL": api})[1] for _ in range(2)]
    finally:
        os.killpg(server.pid, 9)
        server.wait()
    return {"project_id": project_id, "first": first, "video_seconds": seconds, "stages": stages, "peak_mb": peak_mb,
            "rerun": rerun, "rerun_calls": calls, "rerun_server": with_server}


def fan_out(pictures: int = 12, picture_seconds: float = 2.0, concurrency: int = 4) -> dict[str, float]:
    """The asset stage with cloud providers behind fake servers of fixed latency, in this process."""
    os.environ.update(_env())
    from tests.fakes.did_server import FakeDID
    from tests.fakes.stability_server import FakeStability
    from tests.fakes.tts_server import FakeTTS

    from data import create_project
    from ytmaker.core.settings import get_settings, reload_settings

    paragraphs = [f"第{i + 1}段：這是一段關於城市的介紹。它說明了建築、歷史與生活。人們在這裡工作，也在這裡休息。"
                  for i in range(pictures)]
    with FakeTTS() as tts, FakeStability() as stability, FakeDID() as did:
        tts.latency = {"/": 0.05}
        stability.latency = {"/v2beta/stable-image": picture_seconds}
        did.latency = {"/": 0.3}
        os.environ.update(
            YTMAKER_TTS_PROVIDER="google", GOOGLE_TTS_API_KEY=tts.api_key, GOOGLE_TTS_BASE_URL=tts.base_url,
            YTMAKER_IMAGE_PROVIDER="stability", STABILITY_API_KEY=stability.api_key, STABILITY_BASE_URL=stability.url,
            YTMAKER_AVATAR_PROVIDER="did", DID_API_KEY=did.api_key, DID_BASE_URL=did.url,
            YTMAKER_IMAGE_CONCURRENCY=str(concurrency), YTMAKER_MIN_TOTAL_SECONDS="20",
        )
        reload_settings()
        project = create_project(f"fan-out {time.time():.0f}", "\n\n".join(paragraphs), "zh-TW")
        from flows import video_flow

        video_flow(project_id=project.id, publish=False, return_state=True)  # the asset stage is what is measured
        stamps = _stage_stamps(project.id, get_settings().redis_url)["asset_generation"]
        stage = (min(stamps), max(stamps))
        images = [t for t in stability.timeline if t[1].startswith("/v2beta/stable-image")]
        speech = tts.timeline
        talks = did.timeline
    made = len(images)
    ideal = math.ceil(made / concurrency) * picture_seconds
    picture_wall = max(t[3] for t in images) - min(t[2] for t in images)
    narration_path = max(t[3] for t in speech) - stage[0]
    avatar_path = max(t[3] for t in talks) - stage[0]
    first_narration = min(t[3] for t in speech) - stage[0]
    avatar_ideal = first_narration + (max(t[3] for t in talks) - min(t[2] for t in talks))
    critical = max(narration_path, ideal, avatar_ideal)
    return {"pictures": made, "picture_wall": picture_wall, "picture_ideal": ideal, "stage": stage[1] - stage[0],
            "narration_path": narration_path, "avatar_path": avatar_path, "critical": critical}


def main() -> None:
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    print(f"machine: {os.cpu_count()} cores; {sys.platform}; python {sys.version.split()[0]}")
    local = local_end_to_end()
    print(f"\nlocal providers, zh-TW sample ({local['video_seconds']:.1f} s of video), `ytmaker run`:")
    for name in STAGES:
        if name in local["stages"]:
            print(f"  {name:<22} {local['stages'][name]:7.1f} s")
    print(f"  {'whole run':<22} {local['first']:7.1f} s (process start to exit)")
    render = local["stages"].get("video_rendering")
    if render:
        print(f"render rtf: {render / local['video_seconds']:.3f}")
    print(f"peak memory: {local['peak_mb']:.0f} MB (largest process of the run: RSS high-water mark)")
    print(f"cached rerun: {local['rerun']:.1f} s without a server (a temporary server starts and stops)")
    print(f"cached rerun: {min(local['rerun_server']):.1f} s with a running prefect server")
    print(f"provider calls on rerun: {0 if local['rerun_calls'].startswith('none') else local['rerun_calls']}")

    fan = fan_out()
    print(f"\nfan-out (cloud providers behind fake servers: {fan['pictures']} pictures x 2 s, 4 at once):")
    print(f"  pictures: {fan['picture_wall']:.1f} s, ideal {fan['picture_ideal']:.1f} s")
    print(f"  asset stage: {fan['stage']:.1f} s; critical path {fan['critical']:.1f} s "
          f"(narration {fan['narration_path']:.1f} s, narration then avatar {fan['avatar_path']:.1f} s)")
    print(f"fan-out ratio: {fan['picture_wall'] / fan['picture_ideal']:.2f}")
    print(f"asset stage / critical path: {fan['stage'] / fan['critical']:.2f}")


if __name__ == "__main__":
    main()
