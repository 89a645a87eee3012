"""regenerate_image_flow: one picture made again, the video re-rendered, the rest cached."""

from __future__ import annotations

import pytest

from data import AssetType, create_project, get_project, list_assets
from tests.flow_runs import calls_since as _calls
from tests.flow_runs import five_segments as _five_segments
from tests.flow_runs import run as _run
from ytmaker import providers
from ytmaker.core.errors import InvalidProject

pytestmark = pytest.mark.usefixtures("prefect_harness")


def _sha(project_id: int, kind: AssetType, index: int = 0) -> str:
    return next(a.sha256 for a in list_assets(project_id) if a.type == kind and a.segment_index == index)


def test_one_picture_is_remade_and_the_video_rerendered():
    from flows import regenerate_image_flow

    project = create_project("Five places (remake)", _five_segments(), "en")
    assert _run(project.id).is_completed()
    before_image, before_video = _sha(project.id, AssetType.IMAGE, 1), _sha(project.id, AssetType.FINAL_VIDEO)
    before_thumb = _sha(project.id, AssetType.THUMBNAIL)
    published = get_project(project.id).youtube_video_id

    calls = dict(providers.provider_calls)
    result = regenerate_image_flow(project.id, 1, "A quiet morning market under paper lanterns")
    made = _calls(calls)
    assert made == {"image": 1}  # nothing but the one picture was asked of any provider
    assert result.status == "RENDERED" and result.revision == 1
    assert _sha(project.id, AssetType.IMAGE, 1) != before_image
    assert _sha(project.id, AssetType.FINAL_VIDEO) != before_video  # re-rendered
    assert _sha(project.id, AssetType.THUMBNAIL) != before_thumb  # the first picture is on it
    assert get_project(project.id).youtube_video_id == published  # not published again

    # The same picture again, same description: still made again (a new revision), and
    # the revision seeds the drawing, so it is really another picture.
    remade = _sha(project.id, AssetType.IMAGE, 1)
    calls = dict(providers.provider_calls)
    assert regenerate_image_flow(project.id, 1).revision == 2
    assert _calls(calls) == {"image": 1}
    assert _sha(project.id, AssetType.IMAGE, 1) != remade


def test_a_segment_that_does_not_exist_is_refused_clearly():
    from flows import regenerate_image_flow

    project = create_project("Five places (never run)", _five_segments(), "en")
    state = regenerate_image_flow(project.id, 9, return_state=True)
    assert state.is_failed()
    with pytest.raises(InvalidProject, match=r"segment_index 9 is out of range; the script has 0 segments \(run the project first\)"):
        state.result()
