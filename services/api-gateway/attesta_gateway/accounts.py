"""API-key accounts and their escrow: keys, balances, reservations.

Keys are stored as sha256 hex only. Every balance change is one SQL statement (or one
transaction) guarded by the reservation's state, so a retried charge or release never
moves money twice and a reservation never overdraws an account.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import TypeAlias

import asyncpg
from attesta_common.db import create_pool, migrate

KEY_PREFIX = "sk-attesta-"

Db: TypeAlias = asyncpg.Pool | asyncpg.Connection


@dataclass(frozen=True)
class Account:
    id: str
    name: str
    balance: int


def new_api_key() -> str:
    return KEY_PREFIX + secrets.token_hex(20)


def hash_key(api_key: str) -> str:
    return hashlib.sha256(api_key.encode("utf-8")).hexdigest()


def new_account_id() -> str:
    return f"acct-{secrets.token_hex(8)}"


async def create_account(db: Db, name: str, api_key: str, balance: int) -> Account | None:
    """Insert an account; None when the key is already registered."""
    row = await db.fetchrow(
        "INSERT INTO accounts (id, name, key_hash, balance) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT (key_hash) DO NOTHING RETURNING id, name, balance",
        new_account_id(),
        name,
        hash_key(api_key),
        balance,
    )
    return _account(row)


async def provision_key(db: Db, name: str, api_key: str, balance: int) -> tuple[Account, bool]:
    """Register `api_key` once: (account, True) when created now, (account, False) if it was."""
    created = await create_account(db, name, api_key, balance)
    if created is not None:
        return created, True
    existing = await account_by_key(db, api_key)
    if existing is None:
        raise RuntimeError("that key belongs to a disabled account")
    return existing, False


async def ensure_api_key(
    database_url: str, name: str, api_key: str, balance: int
) -> tuple[Account, bool]:
    """`provision_key` on its own connection, tables included: for launchers and scripts
    that seed a key before the gateway has ever started."""
    pool = await create_pool(database_url, min_size=1, max_size=1)
    try:
        await migrate(pool, "common", "attesta_common")
        return await provision_key(pool, name, api_key, balance)
    finally:
        await pool.close()


async def account_by_key(db: Db, api_key: str) -> Account | None:
    row = await db.fetchrow(
        "SELECT id, name, balance FROM accounts WHERE key_hash = $1 AND NOT disabled",
        hash_key(api_key),
    )
    return _account(row)


async def top_up(db: Db, account_id: str, amount: int) -> int | None:
    """Credit an account; the new balance, or None for an unknown account."""
    balance = await db.fetchval(
        "UPDATE accounts SET balance = balance + $2 WHERE id = $1 RETURNING balance",
        account_id,
        amount,
    )
    return None if balance is None else int(balance)


async def reserve(db: Db, account_id: str, inference_id: str, amount: int) -> bool:
    """Move `amount` from the balance into a held reservation; False if the balance is short."""
    created = await db.fetchval(
        """
        WITH debit AS (
            UPDATE accounts SET balance = balance - $2
            WHERE id = $1 AND balance >= $2 AND NOT disabled
            RETURNING id
        )
        INSERT INTO reservations (inference_id, account_id, reserved, state)
        SELECT $3, id, $2, 'held' FROM debit
        RETURNING inference_id
        """,
        account_id,
        amount,
        inference_id,
    )
    return created is not None


async def reserve_many(db: Db, wanted: dict[str, tuple[str, int]]) -> set[str]:
    """`reserve` for several inferences (id -> (account, amount)) in one statement, an
    account's all or none: an account whose balance covers the sum of its reservations in
    the batch gets them all, one that does not gets none. The ids now held.

    Accounts are locked in id order, as in `close_many`: two statements that each lock
    several accounts in whatever order their plans visit them can deadlock."""
    rows = await db.fetch(
        """
        WITH input AS (
            SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[])
                AS t(inference_id, account_id, amount)
        ), wanted AS (
            SELECT account_id, sum(amount) AS total FROM input GROUP BY account_id
        ), locked AS (
            SELECT id FROM accounts WHERE id IN (SELECT account_id FROM wanted)
            ORDER BY id FOR UPDATE
        ), debit AS (
            UPDATE accounts SET balance = accounts.balance - wanted.total
            FROM wanted JOIN locked ON locked.id = wanted.account_id
            WHERE accounts.id = wanted.account_id
              AND accounts.balance >= wanted.total AND NOT accounts.disabled
            RETURNING accounts.id
        )
        INSERT INTO reservations (inference_id, account_id, reserved, state)
        SELECT input.inference_id, input.account_id, input.amount, 'held'
        FROM input JOIN debit ON debit.id = input.account_id
        RETURNING inference_id
        """,
        list(wanted),
        [account for account, _ in wanted.values()],
        [amount for _, amount in wanted.values()],
    )
    return {row["inference_id"] for row in rows}


async def spendable(db: Db, account_ids: set[str]) -> dict[str, int]:
    """The balances of the enabled accounts among these."""
    rows = await db.fetch(
        "SELECT id, balance FROM accounts WHERE id = ANY($1::text[]) AND NOT disabled",
        list(account_ids),
    )
    return {row["id"]: int(row["balance"]) for row in rows}


# The end of a statement that gives money back, after a `refunds` (account_id, amount)
# expression: the accounts locked in id order (see `reserve_many`), then credited.
_REFUND = """locked AS (
            SELECT id FROM accounts WHERE id IN (SELECT account_id FROM refunds)
            ORDER BY id FOR UPDATE
        ), refund AS (
            UPDATE accounts SET balance = accounts.balance + refunds.amount
            FROM refunds JOIN locked ON locked.id = refunds.account_id
            WHERE accounts.id = refunds.account_id
        )"""


async def close_many(db: Db, costs: dict[str, int], state: str) -> dict[str, int]:
    """Close held reservations, each at its cost (capped at the reserved amount), and
    refund the rest, in one statement.

    Returns the amount charged per reservation that was held; one that was not (already
    settled) is missing: the state guard is what makes a repeated call harmless. Refunds
    are summed per account first, since one statement updates a row once, and the
    accounts locked in id order (see `reserve_many`).
    """
    rows = await db.fetch(
        f"""
        WITH input AS (
            SELECT * FROM unnest($1::text[], $2::bigint[]) AS t(inference_id, cost)
        ), closed AS (
            UPDATE reservations
            SET state = $3,
                charged = LEAST(input.cost, reservations.reserved),
                updated_at = now()
            FROM input
            WHERE reservations.inference_id = input.inference_id
              AND reservations.state = 'held'
            RETURNING reservations.inference_id, account_id, reserved, charged
        ), refunds AS (
            SELECT account_id, sum(reserved - charged) AS amount FROM closed GROUP BY account_id
        ), {_REFUND}
        SELECT inference_id, charged FROM closed
        """,
        list(costs),
        [max(cost, 0) for cost in costs.values()],
        state,
    )
    return {row["inference_id"]: int(row["charged"]) for row in rows}


async def shrink_many(db: Db, keep: dict[str, int]) -> set[str]:
    """Lower held reservations (id -> amount to keep) and refund the difference, in one
    statement; the ids lowered. One that is no longer held, or holds no more than that,
    is left alone, so a shrink racing its own charge changes nothing: whichever statement
    locks the row first, the other sees its result (the charge is capped at what is held,
    and a charged reservation is not held)."""
    rows = await db.fetch(
        f"""
        WITH input AS (
            SELECT * FROM unnest($1::text[], $2::bigint[]) AS t(inference_id, keep)
        ), old AS (
            SELECT r.inference_id, r.account_id, r.reserved, input.keep
            FROM reservations r JOIN input ON input.inference_id = r.inference_id
            WHERE r.state = 'held' AND r.reserved > input.keep
            ORDER BY r.inference_id FOR UPDATE OF r
        ), shrunk AS (
            UPDATE reservations SET reserved = old.keep, updated_at = now()
            FROM old WHERE reservations.inference_id = old.inference_id
            RETURNING old.inference_id, old.account_id, old.reserved - old.keep AS back
        ), refunds AS (
            SELECT account_id, sum(back) AS amount FROM shrunk GROUP BY account_id
        ), {_REFUND}
        SELECT inference_id FROM shrunk
        """,
        list(keep),
        [max(amount, 0) for amount in keep.values()],
    )
    return {row["inference_id"] for row in rows}


async def release(db: Db, inference_id: str) -> int | None:
    return (await close_many(db, {inference_id: 0}, "released")).get(inference_id)


def _account(row: asyncpg.Record | None) -> Account | None:
    if row is None:
        return None
    return Account(id=row["id"], name=row["name"], balance=int(row["balance"]))
