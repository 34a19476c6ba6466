"""`attesta-keys new PATH`: create a participant key file and print its address."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from attesta_common.keys import SigningKey


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="attesta-keys")
    commands = parser.add_subparsers(dest="command", required=True)
    new = commands.add_parser("new", help="write a new secp256k1 key file (mode 0600)")
    new.add_argument("path", type=Path)
    show = commands.add_parser("show", help="print the address and public key of a key file")
    show.add_argument("path", type=Path)
    args = parser.parse_args(argv)
    if args.command == "new":
        if args.path.exists():
            parser.error(f"{args.path} exists; refusing to overwrite a key")
        key = SigningKey.generate()
        key.save(args.path)
    else:
        key = SigningKey.load(args.path)
    print(json.dumps({"address": key.address, "public_key": key.public_key_hex}))


if __name__ == "__main__":
    main()
