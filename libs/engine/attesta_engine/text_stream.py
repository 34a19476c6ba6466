"""Turning a growing list of tokens into text that is safe to show as it grows.

Text is held back while it ends in an incomplete UTF-8 sequence, or in what could still
become a stop sequence, so the client never sees bytes that later vanish.
"""

from __future__ import annotations

from collections.abc import Sequence


def stop_index(text: str, stops: Sequence[str]) -> int | None:
    """Where the earliest stop sequence starts in text, if any."""
    if not stops:  # most requests, at every token
        return None
    found = [i for i in (text.find(s) for s in stops if s) if i >= 0]
    return min(found) if found else None


def safe_prefix_length(text: str, stops: Sequence[str]) -> int:
    """How much of text can be emitted now without risking a retraction."""
    end = len(text)
    while end > 0 and text[end - 1] == "\ufffd":
        end -= 1
    held = 0
    for stop in stops:
        for length in range(min(len(stop) - 1, end), 0, -1):
            if text[end - length : end] == stop[:length]:
                held = max(held, length)
                break
    return end - held
