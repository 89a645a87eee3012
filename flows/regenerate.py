"""``regenerate_image_flow``: make one segment's picture again, then re-render and re-thumbnail.

Every other step comes from the cache. The result is not published: publish it with a
normal ``video_flow`` run when it looks right.
"""

from __future__ import annotations

from prefect import flow

from data import request_image_remake
from flows.video import video_flow
from ytmaker.runtime.job import VideoResult


class RemakeResult(VideoResult):
    segment_index: int
    revision: int  # how many times this segment's picture was remade


@flow(name="regenerate-image-flow")
def regenerate_image_flow(project_id: int, segment_index: int, description: str | None = None) -> RemakeResult:
    revision = request_image_remake(project_id, segment_index, description)
    result = video_flow(project_id=project_id, publish=False)
    return RemakeResult(**result.model_dump(), segment_index=segment_index, revision=revision)
