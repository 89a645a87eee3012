"""``quota_flow``: hourly, read every provider's quota and publish it to Redis.

Deploy it on an hourly schedule, e.g. ``quota_flow.serve(name="hourly", cron="0 * * * *")``.
Each run writes ``quota:did``, ``quota:stability`` and ``quota:youtube`` (JSON, one hour
expiry); a provider that cannot be read is reported with its error and not written.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, task

from blocks.credentials import with_block_credentials
from ytmaker.core.settings import get_settings
from ytmaker.runtime.quota import read_quotas, write_quotas_to_redis


@task(name="check-quotas")
def check_quotas() -> dict[str, dict[str, Any]]:
    settings = with_block_credentials(get_settings())  # keys as the steps find them
    reports = read_quotas(settings)
    write_quotas_to_redis(reports, settings.redis_url)
    return {report.provider: report.model_dump(mode="json") for report in reports}


@flow(name="quota-flow")
def quota_flow() -> dict[str, dict[str, Any]]:
    """{provider: report} for every provider read (reports with ``error`` were not written)."""
    return check_quotas()
