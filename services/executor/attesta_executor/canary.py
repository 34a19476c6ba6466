"""The network's own executor planting canaries: a known-bad result for a marked request.

Only an executor given the network's canary key (`ATTESTA_CANARY_KEY_PATH`) does this,
and only for requests whose id carries the epoch's canary mark, which the gateway gives
to the canaries it plants and never to a client's request (attesta_common.canary).

The result is the honest generation with its reported log-probabilities scaled by
`SPOIL_SCALE` (except the rare rows where that would move a sampled draw): tokens, text
and top-k order stay as they were, and the artifact stays well-formed and
self-consistent, so checks that do not run the model (structure, replay from the reported
numbers) see nothing. Comparing with the model's own
distribution does: 2% on every log-probability is about 25x the distance threshold.
"""

from __future__ import annotations

from dataclasses import replace

from attesta_common.artifact import TopKArtifact
from attesta_common.canary import epoch_canary_secret, is_canary, spoil_tag
from attesta_common.events import InferenceRequested, SamplingParams
from attesta_common.sampling import choose_token
from attesta_engine.port import Generation

SPOIL_SCALE = 1.02


class CanarySpoiler:
    def __init__(self, canary_key: bytes) -> None:
        self._key = canary_key
        self._secrets: dict[int, bytes] = {}

    def _secret(self, epoch: int) -> bytes:
        secret = self._secrets.get(epoch)
        if secret is None:
            secret = self._secrets[epoch] = epoch_canary_secret(self._key, epoch)
        return secret

    def is_canary(self, request: InferenceRequested) -> bool:
        return is_canary(self._secret(request.epoch), request.inference_id)

    def tag(self, request: InferenceRequested) -> str:
        """The finished record's tag, attesting after the reveal that this was spoiled."""
        return spoil_tag(self._secret(request.epoch), request.inference_id)

    @staticmethod
    def spoil(generation: Generation, sampling: SamplingParams) -> Generation:
        """Scale every row whose choice replays the same from the scaled numbers; keep
        the few where the draw sits so near a boundary that scaling would move it (a
        sampled answer), so the replay from the reported numbers still passes."""
        artifact = generation.artifact
        t, top_p, seed = sampling.temperature, sampling.top_p, sampling.seed
        rows = []
        for position, (ids, logprobs, token) in enumerate(
            zip(artifact.token_ids, artifact.logprobs, generation.output_token_ids, strict=True)
        ):
            scaled = [lp * SPOIL_SCALE for lp in logprobs]
            same = choose_token(ids, scaled, t, top_p, seed, position) == token
            rows.append(scaled if same else list(logprobs))
        spoiled = TopKArtifact.build(artifact.k, artifact.token_ids, rows)
        return replace(generation, artifact=spoiled)
