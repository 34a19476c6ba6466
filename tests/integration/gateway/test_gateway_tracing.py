"""The client's W3C traceparent is honoured: the gateway's server span continues the
client's trace and the JetStream publish of the request hangs under it."""

from __future__ import annotations

from gateway_harness import StartGateway
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CLIENT_SPAN = "00f067aa0ba902b7"


async def test_traceparent_is_continued_through_the_publish(start_gateway: StartGateway) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    gateway = await start_gateway(tracer_provider=provider)
    api_key, _ = await gateway.new_key(balance=100_000)
    async with gateway.client(api_key) as client:
        response = await client.post(
            "/v1/chat/completions",
            json={"model": gateway.model, "messages": [{"role": "user", "content": "Hi"}]},
            headers={"traceparent": f"00-{TRACE_ID}-{CLIENT_SPAN}-01"},
        )
    assert response.status_code == 200
    spans = [s for s in exporter.get_finished_spans() if f"{s.context.trace_id:032x}" == TRACE_ID]
    server = next(s for s in spans if s.kind == SpanKind.SERVER)
    assert server.name == "POST /v1/chat/completions"
    assert server.parent is not None and f"{server.parent.span_id:016x}" == CLIENT_SPAN
    assert server.attributes is not None
    assert server.attributes["attesta.inference_id"] == response.json()["id"]
    publish = next(s for s in spans if s.kind == SpanKind.PRODUCER)
    assert publish.parent is not None and publish.parent.span_id == server.context.span_id
    assert "inference.requested" in publish.name
