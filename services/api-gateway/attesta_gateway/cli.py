"""`attesta-gateway-admin`: API keys and balances, straight in Postgres.

    attesta-gateway-admin create-key --name NAME --balance N [--key sk-...]
    attesta-gateway-admin balance (--key KEY | --account ID)
    attesta-gateway-admin topup (--key KEY | --account ID) --amount N

Output is one JSON object per command. A new key is printed once and stored only as its
sha256; re-running create-key with the same --key is a no-op that prints "exists", so
provisioning scripts can run it on every start.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

import asyncpg
from attesta_common.db import create_pool, migrate

from attesta_gateway import accounts
from attesta_gateway.settings import GatewaySettings

# Short enough for a memorable development key (sk-attesta-dev).
MIN_KEY_LENGTH = 8


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="attesta-gateway-admin")
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create-key", help="create an account with a new API key")
    create.add_argument("--name", required=True)
    create.add_argument("--balance", type=int, default=0)
    create.add_argument("--key", help="use this key instead of generating one (idempotent)")
    for name, help_text in (("balance", "show an account's balance"), ("topup", "credit it")):
        command = commands.add_parser(name, help=help_text)
        who = command.add_mutually_exclusive_group(required=True)
        who.add_argument("--key")
        who.add_argument("--account")
        if name == "topup":
            command.add_argument("--amount", type=int, required=True)
    return parser


async def _run(args: argparse.Namespace, database_url: str) -> tuple[int, dict[str, Any]]:
    pool = await create_pool(database_url, min_size=1, max_size=2)
    try:
        await migrate(pool, "common", "attesta_common")
        if args.command == "create-key":
            return await _create_key(pool, args)
        account_id = args.account
        if args.key is not None:
            account = await accounts.account_by_key(pool, args.key)
            if account is None:
                return 1, {"error": "unknown key"}
            account_id = account.id
        if args.command == "topup":
            balance = await accounts.top_up(pool, account_id, args.amount)
        else:
            balance = await pool.fetchval("SELECT balance FROM accounts WHERE id = $1", account_id)
        if balance is None:
            return 1, {"error": f"unknown account {account_id}"}
        return 0, {"account": account_id, "balance": int(balance)}
    finally:
        await pool.close()


async def _create_key(pool: asyncpg.Pool, args: argparse.Namespace) -> tuple[int, dict[str, Any]]:
    api_key = args.key or accounts.new_api_key()
    try:
        account, created = await accounts.provision_key(pool, args.name, api_key, args.balance)
    except RuntimeError as exc:
        return 1, {"error": str(exc)}
    result: dict[str, Any] = {
        "status": "created" if created else "exists",
        "account": account.id,
        "name": account.name,
        "balance": account.balance,
    }
    if created:
        result["key"] = api_key  # printed this once; only its hash is stored
    return 0, result


def main(argv: list[str] | None = None) -> None:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "create-key":
        if args.balance < 0:
            parser.error("--balance must be >= 0")
        if args.key is not None and (
            not args.key.startswith("sk-") or len(args.key) < MIN_KEY_LENGTH
        ):
            parser.error(f"--key must start with 'sk-' and be at least {MIN_KEY_LENGTH} chars")
    if args.command == "topup" and args.amount <= 0:
        parser.error("--amount must be > 0")
    settings = GatewaySettings()
    code, result = asyncio.run(_run(args, settings.database_url))
    print(json.dumps(result))
    if code:
        sys.exit(code)


if __name__ == "__main__":
    main()
