"""What an inference costs, in integer units, computed the same way by gateway and settler."""

from __future__ import annotations

from attesta_common.genesis import Genesis


def inference_cost(genesis: Genesis, prompt_tokens: int, completion_tokens: int) -> int:
    return (prompt_tokens + completion_tokens) * genesis.price_per_token


def prompt_token_bound(text_bytes: int, message_count: int) -> int:
    """An upper bound on prompt tokens without a tokenizer.

    Byte-level BPE never spends more than one token per byte; each chat message adds at
    most 8 template tokens (role markers and separators).
    """
    return text_bytes + 8 * message_count + 8
