"""The validator's JetStream subscriptions: finished records to check, verdicts to dispute,
and the newest settlement for reputation."""

from __future__ import annotations

from typing import Any

from attesta_common.subjects import (
    EPOCH_SETTLED,
    INFERENCE_FINISHED_ALL,
    RECORDS_STREAM,
    VERDICTS_ALL,
)
from faststream.middlewares import AckPolicy
from faststream.nats import ConsumerConfig, DeliverPolicy, JStream, NatsBroker, NatsMessage, PullSub

from attesta_validator.handlers import ValidatorHandlers
from attesta_validator.settings import ValidatorSettings


def register_subscribers(
    broker: NatsBroker, handlers: ValidatorHandlers, settings: ValidatorSettings
) -> None:
    # The stream is created by `ensure_streams` at start; FastStream must not redeclare it.
    stream = JStream(name=RECORDS_STREAM, declare=False)

    async def on_finished(msg: NatsMessage) -> None:
        await handlers.on_finished(msg)

    async def on_settled(msg: NatsMessage) -> None:
        await handlers.on_settled(msg)

    async def on_verdict(msg: NatsMessage) -> None:
        await handlers.on_verdict(msg)

    def durable(subject: str, name: str) -> Any:
        """A durable pull consumer over the whole stream: nothing published while this
        validator was down is missed; a handler error redelivers the message."""
        return broker.subscriber(
            subject,
            stream=stream,
            durable=name,
            pull_sub=PullSub(batch_size=1, timeout=settings.fetch_timeout_s),
            config=ConsumerConfig(
                deliver_policy=DeliverPolicy.ALL,
                ack_wait=settings.ack_wait_s,
                max_deliver=settings.max_deliver,
            ),
            ack_policy=AckPolicy.NACK_ON_ERROR,
        )

    durable(INFERENCE_FINISHED_ALL, settings.durable_for(handlers.address))(on_finished)
    # Every verdict, for disputes: failed verdicts published while this validator was down
    # are still answered.
    durable(VERDICTS_ALL, settings.dispute_durable_for(handlers.address))(on_verdict)
    # Settlements from the newest one on (older ones only matter to a backlog, which is then
    # decided with reputation 0, checking everything): an ordered (ephemeral, gap-free)
    # consumer that starts at the last one on the subject and follows the new ones.
    broker.subscriber(
        EPOCH_SETTLED,
        stream=stream,
        ordered_consumer=True,
        idle_heartbeat=5.0,
        deliver_policy=DeliverPolicy.LAST_PER_SUBJECT,
        ack_policy=AckPolicy.MANUAL,
    )(on_settled)
