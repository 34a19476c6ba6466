"""Every record exchanged between services, as versioned pydantic models.

A record's schema is only ever extended: new fields get defaults, and readers ignore
fields they do not know, so an old consumer keeps reading a newer producer's records.
Each record kind is accepted only from a signer holding `SIGNER_ROLE`.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from attesta_common.roles import Role


class Event(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    KIND: ClassVar[str]
    VERSION: ClassVar[int] = 1
    SIGNER_ROLE: ClassVar[Role]


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: str


class SamplingParams(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    temperature: float = Field(default=1.0, ge=0.0, le=2.0)
    top_p: float = Field(default=1.0, gt=0.0, le=1.0)
    max_tokens: int = Field(default=256, ge=1)
    seed: int
    stop: list[str] = Field(default_factory=list)


class Usage(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    prompt_tokens: int
    completion_tokens: int

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class InferenceRequested(Event):
    KIND: ClassVar[str] = "InferenceRequested"
    SIGNER_ROLE: ClassVar[Role] = Role.GATEWAY

    inference_id: str
    endpoint: Literal["chat", "completion"]
    epoch: int
    model: str
    messages: list[ChatMessage] | None = None
    prompt: str | None = None
    sampling: SamplingParams
    logprobs: bool = False
    top_logprobs: int = 0
    account: str
    executor: str
    reserved: int
    requested_at_ms: int
    deadline_ms: int
    # The live executors the draw chose from, so anyone can re-derive it from this record
    # with the genesis weights (added in v1 with a default: older records read as empty).
    candidates: list[str] = Field(default_factory=list)
    # Both added in v1 with defaults. stream_chunks is false when the client waits for the
    # whole answer without log-probs (at most the first chunk, and the `end`, are sent);
    # end_before_stored is true when the gateway reads `stored` events (docs/architecture.md).
    stream_chunks: bool = True
    end_before_stored: bool = False
    # Added in v1: the prefix the gateway reads this inference's token stream under
    # (`subjects.token_stream`); None, or an executor that does not know it: a subject of
    # its own. Only sent to executors announcing `subjects.STREAM_PREFIX_FEATURE`.
    stream_prefix: str | None = None


class Receipt(BaseModel):
    """What the executor vouches for, signed with its key; clients can check it offline."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    inference_id: str
    executor: str
    model: str
    prompt_hash: str
    sampling_hash: str
    seed: int
    output_hash: str
    artifact_hash: str
    prompt_tokens: int
    completion_tokens: int
    public_key: str
    signature: str = ""

    def signed_fields(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude={"signature"})


class InferenceFinished(Event):
    KIND: ClassVar[str] = "InferenceFinished"
    SIGNER_ROLE: ClassVar[Role] = Role.EXECUTOR

    inference_id: str
    epoch: int
    executor: str
    request_hash: str
    request: dict[str, Any]
    prompt_token_ids: list[int]
    output_token_ids: list[int]
    text: str
    finish_reason: Literal["stop", "length"]
    usage: Usage
    artifact: str
    receipt: Receipt
    # 64 hex characters, pseudo-random to all but the executor; on a canary it spoiled, a
    # canary executor's tag opens with the revealed canary secret (attesta_common.canary).
    # Added in v1 with a default: older records have none.
    tag: str | None = Field(default=None, pattern="^[0-9a-f]{64}$")


class InferenceFailed(Event):
    KIND: ClassVar[str] = "InferenceFailed"
    SIGNER_ROLE: ClassVar[Role] = Role.EXECUTOR

    inference_id: str
    epoch: int
    executor: str
    request_hash: str
    code: str
    message: str


class CheckResults(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    structure_ok: bool
    replay_reported_ok: bool
    replay_own_ok: bool | None = None
    distance: float | None = None
    distance_threshold: float | None = None
    replay_mismatches: int = 0


class ValidationVerdict(Event):
    KIND: ClassVar[str] = "ValidationVerdict"
    SIGNER_ROLE: ClassVar[Role] = Role.VALIDATOR

    inference_id: str
    epoch: int
    executor: str
    validator: str
    finished_hash: str
    passed: bool
    checks: CheckResults
    reasons: list[str] = Field(default_factory=list)
    # True when the check was a dispute re-check (another validator's verdict failed),
    # made regardless of this validator's sampling draw.
    dispute: bool = False


class ValidatorSeedCommitted(Event):
    KIND: ClassVar[str] = "ValidatorSeedCommitted"
    SIGNER_ROLE: ClassVar[Role] = Role.VALIDATOR

    validator: str
    epoch: int
    seed_hash: str


class ParticipantSettlement(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    address: str
    roles: list[Role]
    weight: int
    inferences: int = 0
    valid: int = 0
    invalidated: int = 0
    checks: int = 0
    status: Literal["active", "invalid"] = "active"
    reputation: int = 0
    fees: int = 0
    reward: int = 0
    # Validators: checks owed by the revealed seed (docs/verification.md), and why the
    # validator lost its share of the validator pool (empty when it did not).
    checks_owed: int = 0
    flags: list[str] = Field(default_factory=list)
    # Executors: canaries it ran (planted by the network; not counted as its work).
    canaries: int = 0
    # Executors: forfeited for invalidated inferences (attesta_settler.slashing); what is
    # paid is fees + reward - slashed.
    slashed: int = 0

    @property
    def payout(self) -> int:
        return self.fees + self.reward - self.slashed


class Refund(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    account: str
    inference_id: str
    amount: int


class EpochSettled(Event):
    KIND: ClassVar[str] = "EpochSettled"
    SIGNER_ROLE: ClassVar[Role] = Role.SETTLER

    epoch: int
    cutoff_seq: int
    previous_settlement_hash: str | None
    inference_count: int
    participants: list[ParticipantSettlement]
    refunds: list[Refund]
    reward_pool: int
    # Hashes of the `CanaryRevealed` records this settlement used: the reveals come after
    # the cutoff (so no counted verdict knew them), and these name exactly which.
    canary_reveals: list[str] = Field(default_factory=list)
    canaries: int = 0


class BatchAnchored(Event):
    KIND: ClassVar[str] = "BatchAnchored"
    SIGNER_ROLE: ClassVar[Role] = Role.CHAIN_WRITER

    batch_seq: int
    merkle_root: str
    leaf_count: int
    anchor_kind: str
    anchor_ref: str
    anchor_height: int


class ExecutorHeartbeat(Event):
    """Liveness and load of an executor, on core NATS (not a stored record)."""

    KIND: ClassVar[str] = "ExecutorHeartbeat"
    SIGNER_ROLE: ClassVar[Role] = Role.EXECUTOR

    executor: str
    models: list[str]
    capacity: int
    in_flight: int
    sent_at_ms: int
    # Added in v1: what it understands beyond the first version (subjects' *_FEATURE).
    features: list[str] = Field(default_factory=list)


class ValidatorSeedRevealed(Event):
    """The seed a validator committed for an epoch, revealed once the epoch is over so the
    settler can re-derive which checks it owed."""

    KIND: ClassVar[str] = "ValidatorSeedRevealed"
    SIGNER_ROLE: ClassVar[Role] = Role.VALIDATOR

    validator: str
    epoch: int
    seed: str  # hex


class CanaryCommitted(Event):
    """A gateway's commitment to its canary secret of an epoch (attesta_common.canary)."""

    KIND: ClassVar[str] = "CanaryCommitted"
    SIGNER_ROLE: ClassVar[Role] = Role.GATEWAY

    gateway: str
    epoch: int
    secret_hash: str


class CanaryRevealed(Event):
    """The committed canary secret, revealed after the epoch's settlement cutoff."""

    KIND: ClassVar[str] = "CanaryRevealed"
    SIGNER_ROLE: ClassVar[Role] = Role.GATEWAY

    gateway: str
    epoch: int
    secret: str  # hex


RECORD_TYPES: dict[str, type[Event]] = {
    cls.KIND: cls
    for cls in (
        InferenceRequested,
        InferenceFinished,
        InferenceFailed,
        ValidationVerdict,
        ValidatorSeedCommitted,
        EpochSettled,
        BatchAnchored,
        ExecutorHeartbeat,
        ValidatorSeedRevealed,
        CanaryCommitted,
        CanaryRevealed,
    )
}
