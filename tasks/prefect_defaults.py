"""Defaults for Prefect that must be in place before ``prefect`` is first imported."""

from __future__ import annotations

import os

from ytmaker.core.settings import get_settings


def apply_defaults() -> None:
    # Step results (the resume cache) live under the data root unless the user chose a place.
    os.environ.setdefault("PREFECT_RESULTS_LOCAL_STORAGE_PATH", str(get_settings().results_dir))
    # A cold first start of the ephemeral API server can be slow on 2 cores.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
    # The ephemeral server's telemetry only logs errors on machines without internet access.
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    # Concurrency slots are leases; kept on disk they outlive the (temporary) server that
    # granted them, so an expired lease of a killed process can still be given back
    # (tasks/limits.py). In memory they vanished with it and the slots stayed taken for good.
    os.environ.setdefault("PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE", "prefect.server.concurrency.lease_storage.filesystem")
