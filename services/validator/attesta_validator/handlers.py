"""FastStream subscribers: finished records in, signed verdicts out; settlements in, reputations;
failed verdicts of other validators in, dispute re-checks out; seeds revealed after each epoch.

Finished records come from a durable pull consumer, one at a time: a check occupies the
engine for a while, and pulling only when ready keeps the other records in the stream
rather than ageing towards their ack deadline in a client buffer.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from attesta_common.envelope import RecordRejected, SignedRecord, read_record, sign_event
from attesta_common.events import (
    CheckResults,
    EpochSettled,
    InferenceFinished,
    InferenceRequested,
    ValidationVerdict,
    ValidatorSeedCommitted,
    ValidatorSeedRevealed,
)
from attesta_common.genesis import Genesis, ModelSpec
from attesta_common.keys import SigningKey
from attesta_common.metrics import VALIDATOR_CHECK_DURATION, VALIDATOR_CHECKS, VALIDATOR_DISPUTES
from attesta_common.record_publisher import RecordSink
from attesta_common.subjects import (
    seed_committed,
    seed_revealed,
    verdict,
)
from faststream.exceptions import NackMessage
from faststream.nats import NatsMessage

from attesta_validator.admission import Admitted, admit_finished
from attesta_validator.check import passed
from attesta_validator.disputes import DisputeBook
from attesta_validator.reputation import ReputationBook
from attesta_validator.selection import SeedCommitments, decide, seed_commitment, validator_seed
from attesta_validator.settings import ValidatorSettings

log = logging.getLogger(__name__)

T = TypeVar("T")

# Runs `check_inference` off the event loop: (request, finished, signer public key).
CheckRunner = Callable[
    [InferenceRequested, InferenceFinished, str], Awaitable[tuple[CheckResults, list[str]]]
]
Keepalive = Callable[[], Awaitable[None]]


class ValidatorHandlers:
    def __init__(
        self,
        *,
        key: SigningKey,
        genesis: Genesis,
        model: ModelSpec,
        records: RecordSink,
        settings: ValidatorSettings,
        run_check: CheckRunner,
        reputations: ReputationBook,
        commitments: SeedCommitments,
        disputes: DisputeBook | None = None,
    ) -> None:
        self._key = key
        self._genesis = genesis
        self._model = model
        self._records = records
        self._settings = settings
        self._run_check = run_check
        self._reputations = reputations
        self._commitments = commitments
        self._disputes = disputes or DisputeBook()

    @property
    def address(self) -> str:
        return self._key.address

    async def on_finished(self, msg: NatsMessage) -> None:
        try:
            admitted = admit_finished(msg.body, self._genesis)
        except RecordRejected as exc:
            log.warning("finished record rejected, not validated: %s", exc)
            return
        try:
            await self.validate(admitted, keepalive=msg.in_progress)
        except Exception as exc:
            delivered = msg.raw_message.metadata.num_delivered or 1
            outcome = (
                "giving up on it"
                if delivered >= self._settings.max_deliver
                else "it will be redelivered"
            )
            log.exception(
                "validating %s failed (delivery %d); %s",
                admitted.finished.inference_id,
                delivered,
                outcome,
            )
            raise NackMessage(delay=self._settings.retry_delay_s) from exc

    async def validate(self, admitted: Admitted, keepalive: Keepalive) -> SignedRecord | None:
        """Decide, check and publish the verdict; None when this validator does not check it."""
        finished, request = admitted.finished, admitted.request
        if finished.executor == self.address:
            log.debug("%s is this validator's own inference; not checked", finished.inference_id)
            return None
        if request.model != self._model.name:
            log.info("%s is for model %s, not served here", finished.inference_id, request.model)
            return None
        if self._disputes.judged(finished.inference_id):
            log.debug("%s already judged here (dispute re-check)", finished.inference_id)
            return None
        seed = validator_seed(self._key, self._genesis, finished.epoch)
        await self._commit_seed(finished.epoch, seed)
        # Reputation as of the newest settlement before the inference's epoch: the rule the
        # settler audits the owed checks with (docs/verification.md).
        decision = decide(
            self._genesis,
            validator=self.address,
            executor=finished.executor,
            reputation=self._reputations.reputation_for(finished.executor, finished.epoch),
            seed=seed,
            inference_id=finished.inference_id,
        )
        disputed = self._disputes.is_disputed(admitted)
        if not decision.check and not disputed:
            log.debug(
                "%s not drawn for a check (p=%.4f)", finished.inference_id, decision.probability
            )
            self._disputes.skipped(admitted)
            VALIDATOR_CHECKS.labels(result="skipped").inc()
            return None
        return await self._check(admitted, keepalive, dispute=not decision.check)

    async def _check(
        self, admitted: Admitted, keepalive: Keepalive, *, dispute: bool
    ) -> SignedRecord:
        """Run the check, sign and publish the verdict."""
        finished, request = admitted.finished, admitted.request
        started = time.perf_counter()
        try:
            checks, reasons = await self._keep_alive(
                self._run_check(request, finished, admitted.record.public_key), keepalive
            )
        except Exception:
            VALIDATOR_CHECKS.labels(result="error").inc()
            raise
        finally:
            VALIDATOR_CHECK_DURATION.observe(time.perf_counter() - started)
        VALIDATOR_CHECKS.labels(result="passed" if passed(checks) else "failed").inc()
        if dispute:
            VALIDATOR_DISPUTES.inc()
        record = sign_event(
            ValidationVerdict(
                inference_id=finished.inference_id,
                epoch=finished.epoch,
                executor=finished.executor,
                validator=self.address,
                finished_hash=admitted.record.hash,
                passed=passed(checks),
                checks=checks,
                reasons=reasons,
                dispute=dispute,
            ),
            self._key,
        )
        await self._records.publish(
            verdict(self.address), record, timeout=self._settings.publish_timeout_s
        )
        self._disputes.mark_judged(finished.inference_id)
        log.info(
            "%sverdict on %s by %s: %s (distance %s)%s",
            "dispute " if dispute else "",
            finished.inference_id,
            finished.executor,
            "passed" if passed(checks) else "FAILED",
            checks.distance,
            f": {'; '.join(reasons)}" if reasons else "",
        )
        return record

    async def on_verdict(self, msg: NatsMessage) -> None:
        try:
            record, event = read_record(msg.body, self._genesis, ValidationVerdict)
        except RecordRejected as exc:
            log.warning("verdict rejected, not disputed: %s", exc)
            return
        try:
            await self.dispute(record, event, keepalive=msg.in_progress)
        except Exception as exc:
            log.exception(
                "re-checking disputed %s failed; it will be redelivered", event.inference_id
            )
            raise NackMessage(delay=self._settings.retry_delay_s) from exc

    async def dispute(
        self, record: SignedRecord, event: ValidationVerdict, keepalive: Keepalive
    ) -> SignedRecord | None:
        """Re-check an inference another validator failed, unless this one judged it already."""
        if event.passed or record.signer == self.address or event.validator != record.signer:
            return None
        if event.executor == self.address or self._disputes.judged(event.inference_id):
            return None
        admitted = self._disputes.disputed_record(event.inference_id, event.finished_hash)
        if admitted is None:
            log.info(
                "%s failed by %s; not seen here yet, re-checked when it arrives",
                event.inference_id,
                event.validator,
            )
            return None
        if admitted.request.model != self._model.name:
            return None
        log.info("%s failed by %s; re-checking", event.inference_id, event.validator)
        return await self._check(admitted, keepalive, dispute=True)

    async def reveal_due(self, now_ms: int) -> list[SignedRecord]:
        """Reveal the seed of every committed epoch whose reveal time has come."""
        published = []
        for epoch in self._commitments.due_reveals(self._genesis, now_ms):
            seed = validator_seed(self._key, self._genesis, epoch)
            record = sign_event(
                ValidatorSeedRevealed(validator=self.address, epoch=epoch, seed=seed.hex()),
                self._key,
            )
            await self._records.publish(
                seed_revealed(self.address),
                record,
                timeout=self._settings.publish_timeout_s,
            )
            self._commitments.revealed(epoch)
            published.append(record)
            log.info("revealed the seed of epoch %d", epoch)
        return published

    async def _commit_seed(self, epoch: int, seed: bytes) -> None:
        if not self._commitments.needed(epoch):
            return
        record = sign_event(
            ValidatorSeedCommitted(
                validator=self.address, epoch=epoch, seed_hash=seed_commitment(seed)
            ),
            self._key,
        )
        await self._records.publish(
            seed_committed(self.address),
            record,
            timeout=self._settings.publish_timeout_s,
        )
        self._commitments.mark(epoch)
        log.info("committed the seed of epoch %d", epoch)

    async def _keep_alive(self, work: Awaitable[T], keepalive: Keepalive) -> T:
        """Await work, telling JetStream the record is in progress while it runs long."""
        task = asyncio.ensure_future(work)
        interval = self._settings.ack_wait_s / 3
        try:
            while True:
                done, _ = await asyncio.wait({task}, timeout=interval)
                if done:
                    return task.result()
                await keepalive()
        finally:
            task.cancel()

    def on_settled_bytes(self, raw: bytes) -> None:
        try:
            _, settled = read_record(raw, self._genesis, EpochSettled)
        except RecordRejected as exc:
            log.warning("settlement rejected: %s", exc)
            return
        if self._reputations.apply(settled):
            log.info("reputations as of settled epoch %d", settled.epoch)

    async def on_settled(self, msg: NatsMessage) -> None:
        self.on_settled_bytes(msg.body)

    def on_own_commitment_bytes(self, raw: bytes) -> None:
        """Remember an epoch already committed (by a previous run of this validator)."""
        try:
            record, committed = read_record(raw, self._genesis, ValidatorSeedCommitted)
        except RecordRejected as exc:
            log.warning("seed commitment rejected: %s", exc)
            return
        if record.signer == self.address:
            self._commitments.mark(committed.epoch)
            # The previous epoch's reveal may not have gone out before the restart.
            self._commitments.expect_reveal(committed.epoch - 1)
