"""Test environment: real Prefect (test harness), real Redis, real ffmpeg; all files in a
temporary data root. Environment is set before anything imports Prefect or the settings."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

_ROOT = Path(tempfile.mkdtemp(prefix="ytmaker-tests-"))
os.environ["DATA_DIR"] = str(_ROOT / "data")
os.environ["PREFECT_RESULTS_LOCAL_STORAGE_PATH"] = str(_ROOT / "results")
os.environ["PREFECT_HOME"] = str(_ROOT / "prefect-home")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ["PREFECT_LOGGING_LEVEL"] = os.environ.get("PREFECT_LOGGING_LEVEL", "WARNING")
# Test projects are short: a 20 s minimum instead of the product's 180 s.
os.environ["YTMAKER_MIN_TOTAL_SECONDS"] = "20"
os.environ.pop("DATABASE_URL", None)
# Progress keys are per project id, and test ids start at 1 like a user's: keep the tests'
# messages in their own Redis database so they never mix with a real project's history.
os.environ["REDIS_URL"] = os.environ.get("YTMAKER_TEST_REDIS_URL", "redis://localhost:6379/15")
for stage in ("SCRIPT", "TTS", "IMAGE", "AVATAR", "PUBLISH"):
    os.environ.pop(f"YTMAKER_{stage}_PROVIDER", None)

import pytest  # noqa: E402

from tests.samples import EN_CONTENT, ZH_CONTENT  # noqa: E402
from ytmaker.core.settings import reload_settings  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def _cleanup_root():
    yield
    shutil.rmtree(_ROOT, ignore_errors=True)


@pytest.fixture(scope="session")
def prefect_harness():
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=90):
        yield


@pytest.fixture
def env(monkeypatch):
    """Change settings for one test: ``env(YTMAKER_IMAGE_PROVIDER="x")``; undone afterwards."""

    def apply(**values: str) -> None:
        for key, value in values.items():
            monkeypatch.setenv(key, value)
        reload_settings()

    yield apply
    monkeypatch.undo()
    reload_settings()


@pytest.fixture
def zh_content() -> str:
    return ZH_CONTENT


@pytest.fixture
def en_content() -> str:
    return EN_CONTENT
