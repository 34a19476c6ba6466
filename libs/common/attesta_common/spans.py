"""Spans that no sampler will record are not built.

Under a parent-based sampler (the SDK's default, and the services' own when they have
nowhere to export: attesta_common.telemetry) a span whose parent is not sampled is
dropped. The SDK still builds it (ids, a sampling decision, a context attached and
detached, the exit's exception handling) only to throw it away: 3-5% of a service's CPU
per request (docs/overhead.md). `child_span` builds it only when it could be recorded;
otherwise the parent's context is made current, so what the code propagates (the trace
id, the unsampled flag) is what the dropped span would have propagated, but for its span
id, which nothing recorded can name.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager
from contextvars import Token

from opentelemetry import context as context_api
from opentelemetry import trace
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ParentBased
from opentelemetry.trace import Span, SpanKind, Tracer
from opentelemetry.util.types import AttributeValue


def drops_unsampled_children(tracer: Tracer) -> bool:
    """Whether `tracer` certainly drops a span whose parent is valid and not sampled: an
    SDK tracer whose sampler is parent-based and leaves such children to `ALWAYS_OFF`
    (local and remote parents alike). Any other tracer is asked as usual."""
    real = getattr(tracer, "_real_tracer", None) or tracer  # a ProxyTracer, once resolved
    sampler = getattr(real, "sampler", None)
    return (
        isinstance(sampler, ParentBased)
        and getattr(sampler, "_remote_parent_not_sampled", None) is ALWAYS_OFF
        and getattr(sampler, "_local_parent_not_sampled", None) is ALWAYS_OFF
    )


def would_drop(tracer: Tracer, context: context_api.Context | None = None) -> bool:
    """Whether a span started now under `context` (default: the current one) is dropped."""
    parent = trace.get_current_span(context).get_span_context()
    return parent.is_valid and not parent.trace_flags.sampled and drops_unsampled_children(tracer)


class _ParentCurrent(AbstractContextManager[Span]):
    """The block runs with `context` current (None: the current context, unchanged); its
    span is the parent's, which does not record."""

    __slots__ = ("_context", "_token")

    def __init__(self, context: context_api.Context | None) -> None:
        self._context = context
        self._token: Token[context_api.Context] | None = None

    def __enter__(self) -> Span:
        if self._context is not None:
            self._token = context_api.attach(self._context)
        return trace.get_current_span(self._context)

    def __exit__(self, *exc_info: object) -> None:
        if self._token is not None:
            context_api.detach(self._token)
            self._token = None


def child_span(
    tracer: Tracer,
    name: str,
    *,
    context: context_api.Context | None = None,
    kind: SpanKind = SpanKind.INTERNAL,
    attributes: Mapping[str, AttributeValue] | None = None,
) -> AbstractContextManager[Span]:
    """`tracer.start_as_current_span(name, context, kind, attributes)`, or, when that span
    would be dropped, its parent (not recording) made current for the same block."""
    if would_drop(tracer, context):
        return _ParentCurrent(context)
    return tracer.start_as_current_span(name, context=context, kind=kind, attributes=attributes)
