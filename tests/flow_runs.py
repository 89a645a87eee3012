"""Running video_flow in tests: shared by several test modules, so it lives in one module
(imported once as ``tests.flow_runs``; a test double registered twice would be two classes)."""

from __future__ import annotations

from ytmaker import providers
from ytmaker.providers.errors import ProviderError
from ytmaker.providers.local import PillowImageGenerator


def run(project_id: int):
    from flows import video_flow

    return video_flow(project_id=project_id, return_state=True)


def calls_since(before: dict[str, int]) -> dict[str, int]:
    return {k: v - before.get(k, 0) for k, v in providers.provider_calls.items() if v - before.get(k, 0)}


class FailingImages:
    """A real image provider that refuses the segments listed in ``fail`` (a test double
    registered through the provider registry, the way any provider is chosen)."""

    fail: set[int] = set()
    refuse: set[int] = set()  # refused by content policy: that picture only is lost

    def generate(self, request, out_path):  # noqa: ANN001
        if request.segment_index in self.fail:
            raise RuntimeError(f"refused segment {request.segment_index}")
        if request.segment_index in self.refuse:
            raise ProviderError("STABILITY", "CONTENT_POLICY", f"segment {request.segment_index}", status=403)
        return PillowImageGenerator().generate(request, out_path)


providers.register("image", "test-failing", lambda settings: FailingImages(), FailingImages)


def five_segments() -> str:
    paragraphs = [
        "The first part talks about the morning market. Fresh bread and warm soy milk fill the air.",
        "The second part follows the river past the old bridge. Fishermen wait there in silence.",
        "The third part climbs the hill to the temple. Its bells ring every hour of the day.",
        "The fourth part visits the night market. Lanterns glow above noodles and sweet drinks.",
        "The fifth part ends on the harbour at dusk. Ships leave as the sun goes down slowly.",
    ]
    return "\n\n".join(paragraphs)
