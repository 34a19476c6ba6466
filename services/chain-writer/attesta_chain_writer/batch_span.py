"""The span of sealing a batch, linked to the trace of every record it anchors.

A batch gathers records from many inferences, so it cannot be a child of any one of
their traces; links connect each record's trace to the batch instead. The SDK keeps 128
links per span unless OTEL_SPAN_LINK_COUNT_LIMIT says otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable

from opentelemetry import trace
from opentelemetry.trace import Link, SpanKind, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

_PROPAGATOR = TraceContextTextMapPropagator()


def record_links(traceparents: Iterable[str | None]) -> list[Link]:
    links = []
    for traceparent in traceparents:
        if not traceparent:
            continue
        context = trace.get_current_span(_PROPAGATOR.extract({"traceparent": traceparent}))
        span_context = context.get_span_context()
        if span_context.is_valid:
            links.append(Link(span_context))
    return links


def start_seal_span(tracer: Tracer, traceparents: Iterable[str | None]) -> trace.Span:
    return tracer.start_span(
        "ledger seal batch", kind=SpanKind.INTERNAL, links=record_links(traceparents)
    )
