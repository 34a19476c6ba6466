"""Prometheus metrics of every service, named in one place (docs/operations.md lists them;
the Grafana dashboard in deploy/grafana uses them)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)

# gateway
GATEWAY_REQUESTS = Counter(
    "attesta_gateway_requests", "HTTP requests by route and status", ["route", "status"]
)
GATEWAY_REQUEST_DURATION = Histogram(
    "attesta_gateway_request_duration_seconds",
    "HTTP request latency",
    ["route"],
    buckets=_LATENCY_BUCKETS,
)
GATEWAY_TTFT = Histogram(
    "attesta_gateway_time_to_first_token_seconds",
    "time to first token",
    ["model"],
    buckets=_LATENCY_BUCKETS,
)
GATEWAY_IN_FLIGHT = Gauge("attesta_gateway_inferences_in_flight", "inferences being collected")
GATEWAY_CANARIES = Counter("attesta_gateway_canaries_planted", "canary inferences planted")
GATEWAY_SPARES = Counter(
    "attesta_gateway_spare_reservations",
    "spare reservations by what became of them: taken by a request, expired, unfit, given"
    " back before a 402",
    ["outcome"],
)

# executor
EXECUTOR_TOKENS = Counter(
    "attesta_executor_generated_tokens", "tokens generated", ["executor", "model"]
)
EXECUTOR_IN_FLIGHT = Gauge("attesta_executor_in_flight", "requests generating now")
EXECUTOR_REQUESTS = Counter("attesta_executor_requests", "requests by outcome", ["outcome"])

# validator
VALIDATOR_CHECKS = Counter("attesta_validator_checks", "checks by result", ["result"])
VALIDATOR_CHECK_DURATION = Histogram(
    "attesta_validator_check_duration_seconds", "duration of one check", buckets=_LATENCY_BUCKETS
)
VALIDATOR_DISPUTES = Counter("attesta_validator_disputes", "dispute re-checks run")

# chain-writer
CHAIN_BATCH_RECORDS = Histogram(
    "attesta_chain_writer_batch_records",
    "records per sealed batch",
    buckets=(1, 10, 50, 100, 500, 1000, 5000, 10000, 50000),
)
CHAIN_ANCHOR_LAG = Histogram(
    "attesta_chain_writer_anchor_lag_seconds",
    "from a batch being sealed to anchored",
    buckets=_LATENCY_BUCKETS,
)
CHAIN_PENDING = Gauge("attesta_chain_writer_pending_records", "records waiting for a batch")

# settler
SETTLEMENT_DURATION = Histogram(
    "attesta_settler_settlement_duration_seconds",
    "time to compute and publish a settlement",
    buckets=_LATENCY_BUCKETS,
)
LAST_SETTLED_EPOCH = Gauge("attesta_settler_last_settled_epoch", "highest settled epoch")
PROJECTION_POSITION = Gauge("attesta_settler_projection_position", "stream sequence projected")

# every consumer of JetStream work
CONSUMER_BACKLOG = Gauge(
    "attesta_consumer_backlog",
    "messages waiting for a durable consumer (pending + delivered but unacked): queue depth",
    ["consumer"],
)
