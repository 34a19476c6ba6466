"""Turning chosen tokens into `TokenStep`s and a `Generation`, the same way for every engine.

Each engine only produces (token, top-k ids, top-k log-probs) per position; how text grows,
where a stop sequence or end of sequence ends it, and what finish reason it gets must not
differ between engines, or their streams and receipts would.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from attesta_common.artifact import TopKArtifact
from attesta_common.logprob_grid import snap_row
from attesta_common.sampling import choose_token

from attesta_engine.port import FinishReason, Generation, GenerationSpec, TokenStep
from attesta_engine.text_stream import safe_prefix_length, stop_index

log = logging.getLogger(__name__)


class GrowingText:
    """The decoded text of a growing token list, without decoding the whole list at every
    token where the tokenizer allows it.

    With an additive decoding (byte-level BPE: the tokens' bytes, concatenated, read as
    UTF-8), the text of the tokens up to a boundary where it ends in a whole character
    never changes as tokens follow, so only the tokens after the last such boundary are
    decoded: linear in the answer's length instead of quadratic (re-decoding a
    4,096-token answer whole at every token took 2.5 s of CPU). Otherwise every call
    decodes the whole list.
    """

    def __init__(self, decode: Callable[[Sequence[int]], str], *, additive: bool) -> None:
        self._decode = decode
        self.additive = additive
        self._settled_text = ""
        self._settled_tokens = 0

    def of(self, tokens: Sequence[int]) -> str:
        """The text of `tokens`, which extend the list of the previous call."""
        if not self.additive:
            return self._decode(tokens)
        tail = self._decode(tokens[self._settled_tokens :])
        text = self._settled_text + tail
        # An incomplete character decodes to U+FFFD; a real U+FFFD only delays settling.
        if tail and not tail.endswith("\ufffd"):
            self._settled_text, self._settled_tokens = text, len(tokens)
        return text


class StepBuilder:
    def __init__(
        self,
        spec: GenerationSpec,
        top_k: int,
        eos_token_ids: frozenset[int],
        decode: Callable[[Sequence[int]], str],
        *,
        additive_decode: bool = False,
    ) -> None:
        self._spec = spec
        self._top_k = top_k
        self._eos = eos_token_ids
        self._decode = decode
        self._growing = GrowingText(decode, additive=additive_decode)
        self.output: list[int] = []
        self._top_ids: list[tuple[int, ...]] = []
        self._top_lps: list[tuple[float, ...]] = []
        self._top_codes: list[tuple[int, ...]] = []
        self._text = ""
        self._emitted = 0
        # Steps without text, the whole output decoded once in `result` (GenerationSpec).
        self._textless = not spec.step_text and not spec.stop
        self.finish: FinishReason = "length"
        self.done = False

    def choose_and_add(self, ids: tuple[int, ...], lps: tuple[float, ...]) -> TokenStep:
        """`add` of the token `choose_token` picks from this row at the next position, the
        row snapped to the grid once for both (the choice is made from the grid values,
        which `choose_token` would otherwise snap again: a third of a greedy token's work)."""
        snapped, codes = snap_row(lps)
        spec = self._spec
        position = len(self.output)
        token = choose_token(
            ids, snapped, spec.temperature, spec.top_p, spec.seed, position, snap=False
        )
        return self._add(token, ids, snapped, codes)

    def add(self, token: int, ids: tuple[int, ...], lps: tuple[float, ...]) -> TokenStep:
        """The step for the next position; sets `done` when it ends the generation.

        The log-probabilities are reported on the grid the token was chosen from
        (`choose_token` snaps them), so the client sees the artifact's own numbers."""
        snapped, codes = snap_row(lps)
        return self._add(token, ids, snapped, codes)

    def _add(
        self, token: int, ids: tuple[int, ...], lps: tuple[float, ...], codes: tuple[int, ...]
    ) -> TokenStep:
        position = len(self.output)
        self.output.append(token)
        self._top_ids.append(ids)
        self._top_lps.append(lps)
        self._top_codes.append(codes)
        if self._textless:
            return self._add_textless(position, token, ids, lps)
        text, stopped = self._until_stop(self._growing.of(self.output))
        self.done = token in self._eos or stopped
        visible = len(text) if self.done else safe_prefix_length(text, self._spec.stop)
        step = TokenStep(position, token, ids, lps, text[self._emitted : visible])
        self._emitted = max(self._emitted, visible)
        self._text = text
        if self.done:
            self.finish = "stop"
        elif len(self.output) >= self._spec.max_tokens:
            self.done = True
        return step

    def _add_textless(
        self, position: int, token: int, ids: tuple[int, ...], lps: tuple[float, ...]
    ) -> TokenStep:
        # Without stop sequences only end of sequence or the length ends the output, as in
        # `_add`.
        if token in self._eos:
            self.done = True
            self.finish = "stop"
        elif len(self.output) >= self._spec.max_tokens:
            self.done = True
        return TokenStep(position, token, ids, lps, "")

    def _until_stop(self, text: str) -> tuple[str, bool]:
        """The text up to the earliest stop sequence, and whether there was one."""
        cut = stop_index(text, self._spec.stop)
        return (text, False) if cut is None else (text[:cut], True)

    def result(self) -> Generation:
        if self._textless:
            self._text = self._decode(self.output)
        elif self._growing.additive:
            # Once per answer, the whole output decoded as validators will decode it: the
            # signed text must be that, whatever the piecewise decoding said.
            text, _ = self._until_stop(self._decode(self.output))
            if text != self._text:
                log.error("piecewise decoding drifted from the whole decoding; using the whole")
                self._text = text
        artifact = TopKArtifact.from_grid_rows(
            self._top_k, self._top_ids, self._top_lps, self._top_codes
        )
        return Generation(
            list(self._spec.prompt_token_ids), self.output, self._text, self.finish, artifact
        )
