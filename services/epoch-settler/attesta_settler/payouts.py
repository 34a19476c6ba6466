"""The money an `EpochSettled` record moves, applied once when the record is projected.

The settler publishes the settlement and only acts on it when it comes back through the
stream, in the same transaction that advances the projection position: refunds, rewards
and reputation are therefore applied exactly once, whoever published the record and
however often it is replayed. A second settlement of an epoch already settled is ignored.
"""

from __future__ import annotations

import logging

import asyncpg
from attesta_common.envelope import SignedRecord
from attesta_common.epochs import epoch_end_ms
from attesta_common.events import EpochSettled, ParticipantSettlement, Refund
from attesta_common.genesis import Genesis

log = logging.getLogger(__name__)


async def _close_stale_escrow(conn: asyncpg.Connection, epoch: int) -> None:
    """Settle reservations a crashed gateway left open.

    Only those past their deadline: before it, the gateway may still be collecting the
    result and will charge or release the reservation itself.
    """
    await conn.execute(
        """
        WITH closed AS (
            UPDATE reservations AS r SET
                state = CASE WHEN i.status = 'finished' THEN 'charged' ELSE 'released' END,
                charged = CASE WHEN i.status = 'finished'
                    THEN LEAST(COALESCE(i.cost, 0), r.reserved) END,
                updated_at = now()
            FROM inferences AS i
            WHERE i.inference_id = r.inference_id AND i.epoch = $1 AND r.state = 'held'
                AND i.deadline_ms <= (extract(epoch FROM clock_timestamp()) * 1000)::bigint
            RETURNING r.account_id, r.reserved - COALESCE(r.charged, 0) AS back
        ),
        per_account AS (
            SELECT account_id, sum(back) AS back FROM closed GROUP BY account_id
        )
        UPDATE accounts AS a SET balance = a.balance + p.back
        FROM per_account AS p WHERE a.id = p.account_id
        """,
        epoch,
    )


# A gateway takes the reservation, then publishes the request; one that crashed in between
# left money held that no record names. A request lives at most half an hour (the gateway
# caps its timeout), so one reserved this long before an epoch's end was published well
# before that epoch's settlement, which is published after the end: had it been sent, its
# record would be projected by the time the settlement is applied, however far behind
# the settler runs.
ORPHAN_AFTER_S = 3600


async def _release_orphaned_escrow(conn: asyncpg.Connection, before_ms: int) -> None:
    """Give back held reservations taken before `before_ms` that no request record names."""
    await conn.execute(
        """
        WITH released AS (
            UPDATE reservations AS r SET state = 'released', updated_at = now()
            WHERE r.state = 'held'
                AND r.created_at < to_timestamp($1::double precision / 1000)
                AND NOT EXISTS (SELECT 1 FROM inferences AS i WHERE i.inference_id = r.inference_id)
            RETURNING r.account_id, r.reserved AS back
        ),
        per_account AS (
            SELECT account_id, sum(back) AS back FROM released GROUP BY account_id
        )
        UPDATE accounts AS a SET balance = a.balance + p.back
        FROM per_account AS p WHERE a.id = p.account_id
        """,
        before_ms,
    )


async def _refund(conn: asyncpg.Connection, refund: Refund) -> None:
    # Never give back more than was taken: the refund names the cost, the reservation
    # holds what the gateway actually charged.
    row = await conn.fetchrow(
        """
        UPDATE reservations SET state = 'refunded', updated_at = now()
        WHERE inference_id = $1 AND state = 'charged'
        RETURNING account_id, LEAST($2::bigint, COALESCE(charged, 0)) AS amount
        """,
        refund.inference_id,
        refund.amount,
    )
    if row is None:
        log.info("no charged reservation to refund for %s", refund.inference_id)
        return
    await conn.execute(
        "UPDATE accounts SET balance = balance + $2 WHERE id = $1",
        row["account_id"],
        row["amount"],
    )


async def _credit(conn: asyncpg.Connection, epoch: int, participant: ParticipantSettlement) -> None:
    await conn.execute(
        """
        INSERT INTO participant_balances (address, balance) VALUES ($1, $2)
        ON CONFLICT (address) DO UPDATE
            SET balance = participant_balances.balance + EXCLUDED.balance
        """,
        participant.address,
        participant.payout,
    )
    await conn.execute(
        """
        INSERT INTO participant_state (address, reputation, status, last_epoch)
        VALUES ($1, $2, $3, $4)
        ON CONFLICT (address) DO UPDATE SET reputation = EXCLUDED.reputation,
            status = EXCLUDED.status, last_epoch = EXCLUDED.last_epoch
        """,
        participant.address,
        participant.reputation,
        participant.status,
        epoch,
    )


async def apply_settlement(
    conn: asyncpg.Connection, genesis: Genesis, record: SignedRecord, event: EpochSettled, seq: int
) -> None:
    inserted = await conn.fetchval(
        """
        INSERT INTO epoch_settlements (epoch, settlement_hash, cutoff_seq, record, seq)
        VALUES ($1, $2, $3, $4::jsonb, $5)
        ON CONFLICT DO NOTHING
        RETURNING epoch
        """,
        event.epoch,
        record.hash,
        event.cutoff_seq,
        record.to_bytes().decode(),
        seq,
    )
    if inserted is None:
        log.warning("epoch %d is already settled; settlement %s ignored", event.epoch, record.hash)
        return
    # Stale escrow first: an invalidated inference whose reservation was still held is
    # charged here, then refunded below, so its account ends up whole either way.
    await _close_stale_escrow(conn, event.epoch)
    # Measured from the epoch's end, not the clock: a settler catching up hours late must
    # not take a request whose record it has yet to project for one never sent.
    await _release_orphaned_escrow(conn, epoch_end_ms(genesis, event.epoch) - ORPHAN_AFTER_S * 1000)
    for refund in event.refunds:
        await _refund(conn, refund)
    for participant in event.participants:
        await _credit(conn, event.epoch, participant)
    log.info(
        "epoch %d settled at seq %d: %d inferences, %d refunds, %d paid",
        event.epoch,
        seq,
        event.inference_count,
        len(event.refunds),
        sum(p.payout for p in event.participants),
    )
