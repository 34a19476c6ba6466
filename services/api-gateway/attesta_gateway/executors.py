"""The live-executor registry, fed by signed heartbeats on core NATS.

Only a heartbeat signed by a genesis executor about itself counts; anything else is
logged and dropped, so a stranger cannot make the gateway draw (and wait on) a dead or
fake executor.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from attesta_common.envelope import RecordRejected, read_record
from attesta_common.events import ExecutorHeartbeat
from attesta_common.genesis import Genesis

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExecutorStatus:
    address: str
    models: frozenset[str]
    capacity: int
    in_flight: int
    sent_at_ms: int
    seen_at: float  # monotonic seconds
    # What it announced it understands beyond v1 (attesta_common.subjects *_FEATURE).
    features: frozenset[str] = frozenset()


class ExecutorRegistry:
    def __init__(self, genesis: Genesis, ttl_s: float, max_skew_s: float) -> None:
        self._genesis = genesis
        self._ttl_s = ttl_s
        self._max_skew_ms = int(max_skew_s * 1000)
        self._executors: dict[str, ExecutorStatus] = {}

    def handle(self, data: bytes) -> ExecutorStatus | None:
        """Record one heartbeat; returns the accepted status, None if it was dropped."""
        try:
            record, beat = read_record(data, self._genesis, ExecutorHeartbeat)
        except RecordRejected as exc:
            log.warning("heartbeat rejected: %s", exc)
            return None
        if beat.executor != record.signer:
            log.warning("heartbeat from %s speaks for %s; dropped", record.signer, beat.executor)
            return None
        if abs(int(time.time() * 1000) - beat.sent_at_ms) > self._max_skew_ms:
            log.warning("heartbeat from %s is stale or from the future; dropped", beat.executor)
            return None
        previous = self._executors.get(beat.executor)
        if previous is not None and beat.sent_at_ms < previous.sent_at_ms:
            # An older heartbeat replayed (or reordered) must not refresh liveness.
            return None
        status = ExecutorStatus(
            address=beat.executor,
            models=frozenset(beat.models),
            capacity=beat.capacity,
            in_flight=beat.in_flight,
            sent_at_ms=beat.sent_at_ms,
            seen_at=time.monotonic(),
            features=frozenset(beat.features),
        )
        self._executors[beat.executor] = status
        return status

    def live(self, model: str | None = None) -> list[ExecutorStatus]:
        """Executors heard from within the TTL (serving `model`, when given), by address."""
        horizon = time.monotonic() - self._ttl_s
        return sorted(
            (
                status
                for status in self._executors.values()
                if status.seen_at >= horizon and (model is None or model in status.models)
            ),
            key=lambda status: status.address,
        )

    def candidates(self, model: str) -> list[tuple[str, int]]:
        """(address, genesis weight) of the live executors serving `model`: the draw's input."""
        return [
            (status.address, self._genesis.weight(status.address))
            for status in self.live(model)
            if self._genesis.weight(status.address) > 0
        ]

    def supports(self, address: str, feature: str) -> bool:
        """Whether the executor's last heartbeat announced `feature`."""
        status = self._executors.get(address)
        return status is not None and feature in status.features

    def served_models(self) -> list[str]:
        """Models of the genesis that at least one live executor serves."""
        live_models = set().union(*(status.models for status in self.live()))
        return [spec.name for spec in self._genesis.models if spec.name in live_models]
