"""`child_span`: a span is built unless a parent-based sampler is certain to drop it."""

from __future__ import annotations

from attesta_common.spans import child_span, drops_unsampled_children, would_drop
from opentelemetry import context as context_api
from opentelemetry import propagate, trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, ParentBased, Sampler
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

TRACE_ID = 0x1234
SPAN_ID = 0x99


def _tracer(sampler: Sampler | None = None) -> tuple[trace.Tracer, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=sampler)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider.get_tracer("test"), exporter


def _remote_parent(sampled: bool) -> context_api.Context:
    flags = TraceFlags(TraceFlags.SAMPLED if sampled else TraceFlags.DEFAULT)
    span = NonRecordingSpan(SpanContext(TRACE_ID, SPAN_ID, is_remote=True, trace_flags=flags))
    return trace.set_span_in_context(span)


def _traceparent() -> str:
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier["traceparent"]


def test_which_samplers_drop_unsampled_children() -> None:
    assert drops_unsampled_children(_tracer()[0])  # the SDK's default: parent-based
    assert drops_unsampled_children(_tracer(ParentBased(ALWAYS_OFF))[0])  # the quiet one
    assert not drops_unsampled_children(_tracer(ALWAYS_ON)[0])
    assert not drops_unsampled_children(
        _tracer(ParentBased(ALWAYS_ON, remote_parent_not_sampled=ALWAYS_ON))[0]
    )
    assert not drops_unsampled_children(trace.NoOpTracer())


def test_an_unsampled_remote_parent_is_made_current_instead_of_a_child() -> None:
    tracer, exporter = _tracer()
    parent = _remote_parent(sampled=False)
    assert would_drop(tracer, parent)
    before = trace.get_current_span()
    with child_span(tracer, "work", context=parent, kind=trace.SpanKind.CONSUMER) as span:
        assert not span.is_recording()
        assert span.get_span_context().span_id == SPAN_ID
        assert trace.get_current_span() is span
        # What goes on is the parent's trace, still unsampled.
        assert _traceparent() == f"00-{TRACE_ID:032x}-{SPAN_ID:016x}-00"
    assert trace.get_current_span() is before
    assert exporter.get_finished_spans() == ()


def test_a_sampled_parent_gets_its_child() -> None:
    tracer, exporter = _tracer()
    with child_span(tracer, "work", context=_remote_parent(sampled=True)) as span:
        assert span.is_recording()
        assert span.get_span_context().span_id != SPAN_ID
    (finished,) = exporter.get_finished_spans()
    assert finished.name == "work"
    assert finished.parent is not None and finished.parent.span_id == SPAN_ID


def test_a_sampler_that_records_unsampled_children_still_gets_them() -> None:
    tracer, exporter = _tracer(ALWAYS_ON)
    assert not would_drop(tracer, _remote_parent(sampled=False))
    with child_span(tracer, "work", context=_remote_parent(sampled=False)) as span:
        assert span.is_recording()
    assert [s.name for s in exporter.get_finished_spans()] == ["work"]


def test_children_of_a_quiet_root_are_not_built() -> None:
    tracer, exporter = _tracer(ParentBased(ALWAYS_OFF))
    with child_span(tracer, "root") as root:  # no parent: built, and dropped
        root_context = root.get_span_context()
        assert root_context.is_valid and not root.is_recording()
        with child_span(tracer, "inner") as inner:
            assert inner is root
            with child_span(tracer, "innermost"):
                assert trace.get_current_span() is root
        assert trace.get_current_span() is root
    assert exporter.get_finished_spans() == ()


def test_an_exception_leaves_the_context_as_it_was() -> None:
    tracer, _ = _tracer()
    before = trace.get_current_span()
    try:
        with child_span(tracer, "work", context=_remote_parent(sampled=False)):
            raise ValueError("boom")
    except ValueError:
        pass
    assert trace.get_current_span() is before
