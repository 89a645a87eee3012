"""batch_flow: bounded concurrency, a failed project never stops the others."""

from __future__ import annotations

import pytest

from data import BatchStatus, ProjectStatus, create_project, get_batch, get_project
from ytmaker.runtime.progress_bus import subscribe_progress

pytestmark = pytest.mark.usefixtures("prefect_harness")


def test_batch_of_three_with_one_failure_is_partial(en_content):
    from flows import batch_flow

    good_en = create_project("Batch bees", en_content, "en")
    bad = create_project("Batch too short", "Just one line.", "en")  # fails script validation
    good_zh = create_project("Batch bees again", en_content.replace("queen", "mother"), "en")
    ids = [good_en.id, bad.id, good_zh.id]
    result = batch_flow(project_ids=ids)

    assert result["status"] == "PARTIAL" and result["total_projects"] == 3
    assert (result["completed"], result["failed"]) == (2, 1)
    by_id = {r["project_id"]: r for r in result["results"]}
    assert by_id[bad.id]["status"] == "FAILED" and by_id[bad.id]["error"]["code"] == "SCRIPT_INVALID"
    assert by_id[good_en.id]["video_id"] and by_id[good_zh.id]["video_id"]
    batch = get_batch(result["batch_id"])
    assert batch.status == BatchStatus.PARTIAL and (batch.completed, batch.failed) == (2, 1)
    assert get_project(good_en.id).status == ProjectStatus.COMPLETED
    assert get_project(good_en.id).batch_id == batch.id

    history = list(subscribe_progress(f"batch:{batch.id}", replay=True, timeout=3))
    assert [m["progress"] for m in history] == sorted(m["progress"] for m in history)
    assert history[-1]["final"] is True and history[-1]["completed"] == 2

    # A rerun: the finished projects come from the cache, the failed one fails again.
    again = batch_flow(batch_id=batch.id)
    assert (again["completed"], again["failed"]) == (2, 1)
    assert {r["video_id"] for r in again["results"] if "video_id" in r} == {
        by_id[good_en.id]["video_id"], by_id[good_zh.id]["video_id"]
    }
