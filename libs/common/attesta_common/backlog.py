"""Queue depth of a durable JetStream consumer, polled into the backlog gauge.

The server knows how many messages wait for a consumer; asking it every few seconds
costs one request and shows an executor or validator falling behind before its clients
notice.
"""

from __future__ import annotations

import asyncio
import logging

from nats.js import JetStreamContext

from attesta_common.metrics import CONSUMER_BACKLOG

log = logging.getLogger(__name__)


async def backlog(js: JetStreamContext, stream: str, durable: str) -> int:
    info = await js.consumer_info(stream, durable)
    return int(info.num_pending or 0) + int(info.num_ack_pending or 0)


async def poll_backlog(
    js: JetStreamContext, stream: str, durable: str, interval_s: float = 5.0
) -> None:
    """Run until cancelled; a failed poll keeps the last value and is retried."""
    gauge = CONSUMER_BACKLOG.labels(consumer=durable)
    while True:
        try:
            gauge.set(await backlog(js, stream, durable))
        except Exception as exc:  # broker away or consumer not created yet: try again
            log.debug("backlog of %s unavailable: %s", durable, exc)
        await asyncio.sleep(interval_s)
