"""Trace export follows the standard OTEL_* variables."""

from __future__ import annotations

import pytest
from attesta_common.telemetry import _exporter_from_env
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace.export import ConsoleSpanExporter
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator


def test_exporter_follows_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "OTEL_TRACES_EXPORTER",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    ):
        monkeypatch.delenv(name, raising=False)
    assert _exporter_from_env() is None
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
    assert isinstance(_exporter_from_env(), OTLPSpanExporter)
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "console")
    assert isinstance(_exporter_from_env(), ConsoleSpanExporter)
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "none")
    assert _exporter_from_env() is None


def test_spans_are_recorded_only_with_somewhere_to_send_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from attesta_common.telemetry import setup_tracing

    for name in (
        "OTEL_TRACES_EXPORTER",
        "OTEL_TRACES_SAMPLER",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    ):
        monkeypatch.delenv(name, raising=False)
    quiet = setup_tracing("t", install_global=False).get_tracer("t")
    with quiet.start_as_current_span("s") as span:
        assert not span.is_recording()
        assert span.get_span_context().trace_id != 0  # context still propagates
    # A trace sampled upstream stays sampled: later services may export it.
    upstream = {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
    with quiet.start_as_current_span(
        "s", context=TraceContextTextMapPropagator().extract(upstream)
    ) as span:
        assert span.is_recording()
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "console")
    provider = setup_tracing("t", install_global=False)
    with provider.get_tracer("t").start_as_current_span("s") as span:
        assert span.is_recording()
    provider.shutdown()  # flushes its exporter thread before pytest closes stdout
    monkeypatch.delenv("OTEL_TRACES_EXPORTER")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "always_on")
    sampled = setup_tracing("t", install_global=False).get_tracer("t")
    with sampled.start_as_current_span("s") as span:
        assert span.is_recording()
