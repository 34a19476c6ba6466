"""Declaring the executor's durable consumer: at start, and again when it has gone.

The consumer delivers the requests published once it exists (`handlers.consumer_config`:
from the stream's start, one re-created after a deletion would replay every request its
executor ever served; those published while it was missing time out at the gateway,
which refunds them). NATS never changes a consumer's deliver policy (err 10012), so a
declaration keeps the policy an existing consumer was created with (those of releases
before 2026-12-07 deliver from the start).
"""

from __future__ import annotations

from dataclasses import replace

from attesta_common.subjects import RECORDS_STREAM
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig
from nats.js.errors import NotFoundError


async def declare_consumer(js: JetStreamContext, config: ConsumerConfig) -> None:
    """Create the consumer, or update an existing one (a changed capacity)."""
    try:
        info = await js.consumer_info(RECORDS_STREAM, str(config.durable_name))
    except NotFoundError:
        await js.add_consumer(RECORDS_STREAM, config)
        return
    await js.add_consumer(
        RECORDS_STREAM, replace(config, deliver_policy=info.config.deliver_policy)
    )


async def redeclare_consumer(js: JetStreamContext, config: ConsumerConfig) -> None:
    """After a refused or unanswered pull request: re-create the consumer if it is gone."""
    try:
        await js.consumer_info(RECORDS_STREAM, str(config.durable_name))
    except NotFoundError:
        await js.add_consumer(RECORDS_STREAM, config)
