"""What the gateway holds while it runs, built once in the lifespan and kept on `app.state`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import asyncpg
from attesta_common.genesis import Genesis
from attesta_common.keys import SigningKey
from attesta_common.ledger_proof import InclusionProof
from attesta_common.record_publisher import RecordSink
from faststream.nats import NatsBroker

from attesta_gateway.charges import ChargeBatcher
from attesta_gateway.executors import ExecutorRegistry
from attesta_gateway.key_cache import KeyCache
from attesta_gateway.reservations import ReservationBatcher
from attesta_gateway.settings import GatewaySettings
from attesta_gateway.spares import SpareReservations
from attesta_gateway.token_streams import StreamRouter

# attesta_chain_writer.proofs.load_proof, or a stand-in (tests, a gateway without it).
ProofLoader = Callable[[asyncpg.Pool, str], Awaitable[InclusionProof | None]]


@dataclass(frozen=True)
class GatewayContext:
    settings: GatewaySettings
    genesis: Genesis
    key: SigningKey
    pool: asyncpg.Pool
    # Charges of finished inferences, batched (the releases go one by one: rare).
    charges: ChargeBatcher
    # Reservations, batched only while a statement is in flight.
    reservations: ReservationBatcher
    broker: NatsBroker
    # Signed records to JetStream (the request, canaries' commitments).
    records: RecordSink
    registry: ExecutorRegistry
    keys: KeyCache
    # None when spare reservations are off (settings.spare_reservations).
    spares: SpareReservations | None = None
    # The shared token-stream subscription (None: one per inference, as for old executors).
    streams: StreamRouter | None = None
