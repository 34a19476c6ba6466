"""Prompt encoding a piece at a time, with the pieces that recur remembered.

A Hugging Face tokenizer first cuts the text at its added tokens (`<|im_start|>` and the
like, leftmost-longest) and encodes each piece between them on its own. The pieces a chat
template writes (a default system prompt, role names) and an operator's fixed system
prompt recur in nearly every request, so their ids are kept and only the new pieces (the
user's text) are encoded. Used only where the cut is that simple: every added token
matched as written (not normalized, no stripping, not single-word), no normalizer, and a
pre-tokenizer that treats every piece alike (byte-level without a prefix space, regex
splits): one that marks the start of the text (Metaspace's `prepend_scheme="first"`)
would encode a piece differently at the start than after an added token.
"""

from __future__ import annotations

import json
import re
from typing import Any

# Bounds on what is kept: a piece longer than this is encoded each time, and the memory is
# emptied once it holds this many pieces (a plain dict, safe to share with the tokenizing
# thread, whose worst case is re-encoding the recurring pieces once).
MAX_PIECE_CHARS = 8192
MAX_PIECES = 1024


# Pre-tokenizers whose output for a piece does not depend on where the piece starts.
_ALIKE = {"Split", "Digits", "Punctuation", "Whitespace", "WhitespaceSplit", "ByteLevel"}


def _pieces_alike(pre_tokenizer: Any) -> bool:
    if pre_tokenizer is None:
        return True
    config = json.loads(pre_tokenizer.__getstate__())
    steps = config.get("pretokenizers", []) if config.get("type") == "Sequence" else [config]
    return all(
        step.get("type") in _ALIKE and not step.get("add_prefix_space", False) for step in steps
    )


class SegmentCache:
    def __init__(self, added: dict[str, int]) -> None:
        self._added = added
        # Longest first: at one position, the alternation takes the first that matches.
        alternatives = sorted(added, key=len, reverse=True)
        self._cut = re.compile("(" + "|".join(re.escape(token) for token in alternatives) + ")")
        self._pieces: dict[str, tuple[int, ...]] = {}

    @classmethod
    def for_backend(cls, backend: Any) -> SegmentCache | None:
        """The cache for a Rust tokenizer whose cut it reproduces exactly, else None."""
        if backend.normalizer is not None or not _pieces_alike(backend.pre_tokenizer):
            return None
        added: dict[str, int] = {}
        for token_id, token in backend.get_added_tokens_decoder().items():
            if token.normalized or token.lstrip or token.rstrip or token.single_word:
                return None
            added[token.content] = int(token_id)
        return cls(added) if added else None

    def encode(self, backend: Any, text: str) -> list[int]:
        """What `backend.encode(text, add_special_tokens=False).ids` gives."""
        ids: list[int] = []
        pieces = self._pieces
        # re.split with one group: text, token, text, token, ..., text.
        for index, piece in enumerate(self._cut.split(text)):
            if index % 2:
                ids.append(self._added[piece])
            elif piece:
                known = pieces.get(piece)
                if known is None:
                    known = tuple(backend.encode(piece, add_special_tokens=False).ids)
                    if len(piece) <= MAX_PIECE_CHARS:
                        if len(pieces) >= MAX_PIECES:
                            pieces.clear()
                        pieces[piece] = known
                ids.extend(known)
        return ids
