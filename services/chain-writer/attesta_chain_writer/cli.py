"""`attesta-ledger`: fetch a record's inclusion proof, or verify one offline.

    attesta-ledger proof RECORD_HASH [--database-url URL] [--output FILE]
    attesta-ledger verify PROOF_FILE --genesis GENESIS.json
    attesta-ledger verify-chain PROOF_FILE --genesis GENESIS.json --lcd URL

`verify` needs nothing but the two files: the proof carries the audit path and the
signed block, genesis names the chain-writer keys. `verify-chain` checks a proof of a
Cosmos-anchored record against the anchoring transaction fetched from a node.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path

import asyncpg
from attesta_common.genesis import Genesis
from attesta_common.ledger_proof import InclusionProof, verify_proof
from pydantic import ValidationError

from attesta_chain_writer.cosmos.cosmpy_client import CosmpyChain
from attesta_chain_writer.cosmos.verify import verify_on_chain
from attesta_chain_writer.proofs import load_proof
from attesta_chain_writer.settings import ChainWriterSettings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="attesta-ledger", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    proof = commands.add_parser("proof", help="print the inclusion proof of an anchored record")
    proof.add_argument("record_hash", help="sha256 of the record's wire bytes (hex)")
    proof.add_argument(
        "--database-url", help="Postgres DSN (default: ATTESTA_DATABASE_URL or DATABASE_URL)"
    )
    proof.add_argument("--output", type=Path, help="write the proof here instead of stdout")
    verify = commands.add_parser("verify", help="verify a proof file offline")
    verify.add_argument("proof_file", type=Path)
    verify.add_argument("--genesis", type=Path, required=True, help="the network's genesis.json")
    chain = commands.add_parser("verify-chain", help="verify a proof against a Cosmos chain")
    chain.add_argument("proof_file", type=Path)
    chain.add_argument("--genesis", type=Path, required=True, help="the network's genesis.json")
    chain.add_argument("--lcd", required=True, help="node URL, e.g. http://127.0.0.1:1317")
    return parser


async def _fetch_proof(database_url: str, record_hash: str) -> InclusionProof | None:
    conn = await asyncpg.connect(database_url)
    try:
        return await load_proof(conn, record_hash)
    finally:
        await conn.close()


def _proof(args: argparse.Namespace) -> int:
    database_url = args.database_url or ChainWriterSettings().database_url
    try:
        proof = asyncio.run(_fetch_proof(database_url, args.record_hash))
    except (OSError, asyncpg.PostgresError) as exc:
        print(f"cannot read the ledger database: {exc}", file=sys.stderr)
        return 1
    if proof is None:
        print(f"record {args.record_hash} is not in an anchored batch (yet)", file=sys.stderr)
        return 1
    text = proof.model_dump_json(indent=2)
    if args.output is None:
        print(text)
    else:
        args.output.write_text(text + "\n", encoding="utf-8")
    return 0


def _verify(args: argparse.Namespace) -> int:
    try:
        proof = InclusionProof.model_validate_json(args.proof_file.read_bytes())
        genesis = Genesis.load(args.genesis)
    except (OSError, ValidationError, ValueError) as exc:
        print(f"cannot read the proof or genesis: {exc}", file=sys.stderr)
        return 1
    if args.command == "verify-chain":
        url = args.lcd if "+" in args.lcd.split("://")[0] else f"rest+{args.lcd}"
        # Queries need no chain id or denomination; cosmpy only insists they are set.
        problems = verify_on_chain(proof, genesis, CosmpyChain(url, "any", "any"))
    else:
        problems = verify_proof(proof, genesis)
    if problems:
        for problem in problems:
            print(f"FAIL: {problem}")
        return 1
    print(
        f"OK: record {proof.record_hash} is leaf {proof.leaf_index} of batch {proof.batch_seq},"
        f" anchored ({proof.anchor_kind}) at height {proof.anchor_height}"
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "proof":
        return _proof(args)
    return _verify(args)


if __name__ == "__main__":
    sys.exit(main())
