"""Gateway settings, read from ATTESTA_* environment variables (built in `main()`)."""

from __future__ import annotations

from pathlib import Path

from attesta_common.settings import ServiceSettings
from pydantic import Field, model_validator


class GatewaySettings(ServiceSettings):
    key_path: Path = Path(".data/keys/gateway.key")

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    # Request bodies above this are refused with 413 before they are parsed.
    max_body_bytes: int = Field(default=1 << 20, ge=1)
    # The executor's deadline (sent in the request): past it the gateway answers 504 and
    # releases the reservation. At most half an hour: the settler gives back reservations
    # that no request record names, taken an hour before a settled epoch's end
    # (attesta_settler.payouts).
    request_timeout_s: float = Field(default=120.0, gt=0, le=1800)
    # How long the executor may stay silent before its first token; a dead or stuck
    # executor is then given up on early instead of holding the client until the deadline.
    first_token_timeout_s: float = Field(default=60.0, gt=0)
    # Extra wait past the deadline for the `end` of an inference the executor finished
    # just in time, so network latency alone does not turn a success into a 504.
    deadline_grace_s: float = Field(default=1.0, ge=0)
    # An executor whose last heartbeat is older than this is not drawn.
    heartbeat_ttl_s: float = Field(default=3.0, gt=0)
    # Heartbeats stamped further in the past (or future) than this are replays or come from
    # a badly skewed clock; they do not count as liveness.
    heartbeat_max_skew_s: float = Field(default=30.0, gt=0)
    # A found API key is trusted this long without asking the database again (0: every
    # request asks). Spending still checks the account in the same statement.
    key_cache_ttl_s: float = Field(default=5.0, ge=0)
    # A charge waits up to this long for others to share its statement (the client has
    # its answer already; attesta_gateway.charges). 0 writes each at once when none is in
    # flight.
    charge_linger_s: float = Field(default=0.02, ge=0, le=1)
    # Spare reservations (attesta_gateway.spares): after a request, the account's next
    # escrow is taken in the background, `spare_headroom` times this one's, and given back
    # when unused for `spare_idle_s`; the next request then skips a round trip to Postgres.
    spare_reservations: bool = True
    # Capped far below the settler's hour for reservations no record names; the headroom
    # at most 2, the most a spare may exceed the need of the request that takes it.
    spare_idle_s: float = Field(default=5.0, gt=0, le=60)
    spare_headroom: float = Field(default=1.5, ge=1, le=2)
    # How long JetStream may take to acknowledge a published request.
    publish_timeout_s: float = Field(default=5.0, gt=0)
    # On shutdown, running inferences get this long to finish (and be charged).
    shutdown_drain_s: float = Field(default=10.0, ge=0)
    # Canaries (docs/verification.md): the network's canary key (hex file), the addresses
    # of the executors holding it (a JSON list), and the chance that a real request is
    # followed by one canary. Without the key or the executors, none are planted.
    canary_key_path: Path | None = None
    canary_executors: list[str] = Field(default_factory=list)
    canary_rate: float = Field(default=0.01, ge=0, le=1)
    # The secret is revealed this long after the settlement cutoff (clock skew margin).
    canary_reveal_delay_s: float = Field(default=2.0, ge=0)
    canary_interval_s: float = Field(default=1.0, gt=0)

    @model_validator(mode="after")
    def _first_token_within_deadline(self) -> GatewaySettings:
        # A first-token limit past the deadline would never fire; clamp it.
        if self.first_token_timeout_s > self.request_timeout_s:
            self.first_token_timeout_s = self.request_timeout_s
        return self
