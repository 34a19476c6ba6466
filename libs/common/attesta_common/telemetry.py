"""OpenTelemetry setup, driven by the standard OTEL_* variables.

Spans are exported over OTLP when OTEL_EXPORTER_OTLP_ENDPOINT (or the traces-specific
variable) is set and the OTLP exporter is installed, to the console when
OTEL_TRACES_EXPORTER=console, and nowhere otherwise. With nowhere to send them, the traces a
service starts itself are not sampled (unless OTEL_TRACES_SAMPLER names a sampler), so no
span is built only to be dropped, which cost the gateway a tenth of its time per request
(docs/overhead.md); a trace sampled upstream (a client's `traceparent`) is still recorded
and passed on as sampled.
"""

from __future__ import annotations

import logging
import os

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ParentBased

log = logging.getLogger(__name__)


def _exporter_from_env() -> SpanExporter | None:
    choice = os.environ.get("OTEL_TRACES_EXPORTER", "").lower()
    if choice == "none":
        return None
    if choice == "console":
        return ConsoleSpanExporter()
    if (
        choice == "otlp"
        or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    ):
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        except ImportError:
            log.warning("OTLP endpoint set but opentelemetry-exporter-otlp is not installed")
            return None
        exporter: SpanExporter = OTLPSpanExporter()
        return exporter
    return None


def setup_tracing(service_name: str, *, install_global: bool = True) -> TracerProvider:
    resource = Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", service_name)})
    exporter = _exporter_from_env()
    # None: the SDK's own choice (OTEL_TRACES_SAMPLER, or parent-based always-on).
    quiet = exporter is None and not os.environ.get("OTEL_TRACES_SAMPLER")
    sampler = ParentBased(root=ALWAYS_OFF) if quiet else None
    provider = TracerProvider(resource=resource, sampler=sampler)
    if exporter is not None:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    if install_global:
        trace.set_tracer_provider(provider)
    return provider


def setup_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
