"""``ytmaker progress``: the command a user watches a run with."""

from __future__ import annotations

import threading
import time

from data import ProjectStatus, create_project, set_status
from tests.samples import EN_CONTENT
from ytmaker.runtime import progress_bus
from ytmaker.cli import main


def test_an_earlier_runs_final_message_does_not_end_the_watch_of_a_new_run(capsys):
    project = create_project("Bees watched", EN_CONTENT, "en")
    # The earlier run finished; its history is still in Redis when a new run is submitted.
    progress_bus.reset_history(project.id)
    progress_bus.publish(project.id, "youtube_upload", 100, "Video ready: old", final=True, status="COMPLETED")
    set_status(project.id, ProjectStatus.RENDERING)  # the new run is under way
    assert main(["progress", str(project.id), "--timeout", "1"]) == 2  # waited, did not stop at "old"

    def finish() -> None:
        time.sleep(0.5)
        set_status(project.id, ProjectStatus.COMPLETED)
        progress_bus.publish(project.id, "youtube_upload", 100, "Video ready: new", final=True, status="COMPLETED")

    threading.Thread(target=finish).start()
    assert main(["progress", str(project.id), "--timeout", "10"]) == 0
    assert "Video ready: new" in capsys.readouterr().out


def test_a_failed_run_ends_the_watch_with_its_error(capsys):
    project = create_project("Bees failing", EN_CONTENT, "en")
    progress_bus.reset_history(project.id)
    set_status(project.id, ProjectStatus.FAILED)
    progress_bus.publish(project.id, "error", 0, "segment 2 is 3.0 s long; the minimum is 5 s", final=True,
                         status="FAILED", failed_stage="script_generation")
    assert main(["progress", str(project.id), "--timeout", "5"]) == 1
    assert "Failed in script_generation: segment 2 is 3.0 s long" in capsys.readouterr().out
