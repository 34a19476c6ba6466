"""Trace export follows the standard OTEL_* variables."""

from __future__ import annotations

import pytest
from attesta_common.telemetry import _exporter_from_env
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace.export import ConsoleSpanExporter


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
