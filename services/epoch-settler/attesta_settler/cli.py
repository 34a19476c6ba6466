"""`attesta-settler-admin`: operator commands against the settler's read models."""

from __future__ import annotations

import argparse
import asyncio
import sys

from attesta_common.db import create_pool
from attesta_common.genesis import Genesis
from attesta_common.keys import SigningKey

from attesta_settler.recompute import recompute_settlement, stored_settlement_hash
from attesta_settler.settings import SettlerSettings


async def _recompute(settings: SettlerSettings, epoch: int) -> int:
    genesis = Genesis.load(settings.genesis_path)
    key = SigningKey.load(settings.key_path)
    pool = await create_pool(settings.database_url, max_size=2)
    try:
        stored = await stored_settlement_hash(pool, epoch)
        if stored is None:
            print(f"epoch {epoch} has no settlement", file=sys.stderr)
            return 2
        recomputed = await recompute_settlement(pool, genesis, key, epoch)
    finally:
        await pool.close()
    print(f"stored     {stored}")
    print(f"recomputed {recomputed.hash}")
    if recomputed.hash == stored:
        print(f"epoch {epoch}: settlement reproduced")
        return 0
    print(f"epoch {epoch}: settlement DIFFERS from the stored one")
    return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="attesta-settler-admin")
    commands = parser.add_subparsers(dest="command", required=True)
    recompute = commands.add_parser(
        "recompute", help="recompute an epoch's settlement and compare it with the stored one"
    )
    recompute.add_argument("--epoch", type=int, required=True)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    settings = SettlerSettings()
    if args.command == "recompute":
        return asyncio.run(_recompute(settings, args.epoch))
    raise AssertionError(f"unhandled command {args.command}")


if __name__ == "__main__":
    sys.exit(main())
