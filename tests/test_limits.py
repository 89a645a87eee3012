"""Stability's request limits exist on the Prefect API with the service's numbers."""

from __future__ import annotations

import pytest
from prefect import get_client

from tasks.limits import STABILITY_CONCURRENCY, STABILITY_REQUESTS_PER_MINUTE, ensure_limits, provider_limits

pytestmark = pytest.mark.usefixtures("prefect_harness")


def test_stability_limits_are_created_with_the_service_rate():
    ensure_limits()
    with get_client(sync_client=True) as client:
        rate = client.read_global_concurrency_limit_by_name("stability-requests")
        slots = client.read_global_concurrency_limit_by_name("stability-concurrency")
    assert rate.limit == STABILITY_REQUESTS_PER_MINUTE == 150
    assert rate.slot_decay_per_second == pytest.approx(150 / 60)
    assert slots.limit == STABILITY_CONCURRENCY and not slots.slot_decay_per_second


def test_a_stability_call_holds_a_slot_and_a_local_call_holds_none():
    with provider_limits("image", "stability"):
        with get_client(sync_client=True) as client:
            assert client.read_global_concurrency_limit_by_name("stability-concurrency").active_slots == 1
    with get_client(sync_client=True) as client:
        assert client.read_global_concurrency_limit_by_name("stability-concurrency").active_slots == 0
    with provider_limits("image", "local"):
        pass
