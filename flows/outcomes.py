"""How the asset stage's parallel steps end: the first real failure, pictures refused by a
content policy (placeholders), and the note a partly successful run leaves on its project."""

from __future__ import annotations

from typing import Any

from prefect.futures import PrefectFuture, wait

from ytmaker.core.errors import YtmakerError
from ytmaker.core.media_types import ImageAsset
from ytmaker.providers.errors import ProviderError

MAX_FAILED_IMAGE_SHARE = 0.2


def _refused_by_policy(exc: BaseException | None) -> bool:
    return isinstance(exc, ProviderError) and exc.kind == "CONTENT_POLICY"


def raise_first_failure(futures: list[PrefectFuture]) -> None:
    """Let every started step finish (so it is cached), then raise the failure that came
    first. Only steps that failed count: a step left pending because a step it needs failed
    says nothing useful ("Run is in PENDING state"). Pictures refused by a content policy
    are not failures of the stage (see ``images_or_placeholders``)."""
    wait(futures)
    failed = []
    for future in futures:
        state = future.state
        if state.is_failed() or state.is_crashed():
            if not _refused_by_policy(state.result(raise_on_failure=False)):
                failed.append(future)
    if failed:
        min(failed, key=lambda f: f.state.timestamp).result()


def images_or_placeholders(project_id: int, futures: list[PrefectFuture]) -> tuple[list[ImageAsset | None], list[dict]]:
    """Pictures refused by a content policy become ``None`` (the render shows a placeholder)
    and an error entry; any other failure, or more than 20 % refused, fails the stage."""
    wait(futures)
    images: list[ImageAsset | None] = []
    errors: list[dict] = []
    for index, future in enumerate(futures, start=1):
        state = future.state
        if state.is_completed():
            images.append(future.result())
            continue
        exc = state.result(raise_on_failure=False)
        if not _refused_by_policy(exc):
            future.result()  # raises the real failure
        images.append(None)
        errors.append({"asset_type": "IMAGE", "segment_index": index, "error": exc.message, "code": exc.code})
    if errors and len(errors) > MAX_FAILED_IMAGE_SHARE * len(futures):
        raise YtmakerError(
            f"Project {project_id}: {len(errors)} of {len(futures)} pictures were refused "
            f"(more than {MAX_FAILED_IMAGE_SHARE:.0%}); change their descriptions and run again.",
            code="IMAGES_FAILED",
            details={"errors": errors},
        )
    return images, errors


def partial_success_note(image_errors: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The project's ``error_info`` after a published run with placeholder pictures."""
    if not image_errors:
        return None
    return {
        "stage": "asset_generation", "code": "PARTIAL_SUCCESS",
        "message": f"{len(image_errors)} picture(s) were replaced by placeholders; rerun to retry them.",
        "details": {"errors": image_errors},
    }
