"""The batch that anchors records is linked to each record's trace (W3C traceparent in the
message headers), so an SRE can follow an inference into the ledger."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable

import asyncpg
from attesta_chain_writer.service import ChainWriter
from attesta_chain_writer.settings import ChainWriterSettings
from attesta_common.broker import MSG_ID_HEADER
from attesta_common.envelope import sign_event
from attesta_common.events import ValidatorSeedCommitted
from attesta_common.genesis import Genesis
from attesta_common.subjects import seed_committed
from attesta_devnet.genesis_builder import DevnetKeys
from nats.js import JetStreamContext
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter


async def test_sealed_batch_links_every_record_trace(
    pool: asyncpg.Pool,
    js: JetStreamContext,
    make_settings: Callable[..., ChainWriterSettings],
    devnet_keys: DevnetKeys,
    genesis: Genesis,
) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    validator = devnet_keys.validators[0]
    traces = [secrets.token_hex(16) for _ in range(5)]
    async with ChainWriter(
        make_settings(batch_size=50, batch_interval_ms=100),
        genesis,
        devnet_keys.chain_writer,
        pool,
        tracer_provider=provider,
    ):
        for epoch, trace_id in enumerate(traces):
            record = sign_event(
                ValidatorSeedCommitted(
                    validator=validator.address, epoch=epoch, seed_hash=secrets.token_hex(32)
                ),
                validator,
            )
            await js.publish(
                seed_committed(validator.address),
                record.to_bytes(),
                headers={
                    MSG_ID_HEADER: record.hash,
                    "traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01",
                },
            )
        deadline = time.monotonic() + 10
        linked: set[str] = set()
        while not set(traces) <= linked:
            assert time.monotonic() < deadline, f"linked {linked}"
            await asyncio.sleep(0.05)
            seals = [s for s in exporter.get_finished_spans() if s.name == "ledger seal batch"]
            linked = {f"{link.context.trace_id:032x}" for s in seals for link in s.links}
    seal = next(s for s in exporter.get_finished_spans() if s.name == "ledger seal batch")
    assert seal.attributes is not None and seal.attributes["attesta.leaf_count"] >= 1
