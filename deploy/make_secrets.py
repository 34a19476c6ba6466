"""Keys and a genesis for a docker-compose deployment (or to load into Kubernetes).

    python deploy/make_secrets.py deploy/secrets [--executors 2] [--validators 1]

Writes OUT/keys/<participant>.key (mode 0600: gateway, chain-writer, settler, executor-N,
validator-N) and OUT/genesis.json naming all of them, with the devnet genesis builder
that `make run` uses. Refuses to overwrite: keys are identities, and a new genesis is a
new network. Run it from the project's virtualenv (`make install`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from attesta_devnet.genesis_builder import DevnetKeys, build_genesis


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make_secrets.py", description=__doc__)
    parser.add_argument("out", type=Path)
    parser.add_argument("--executors", type=int, default=2)
    parser.add_argument("--validators", type=int, default=1)
    parser.add_argument("--epoch-seconds", type=float, default=60.0)
    parser.add_argument("--settle-grace-seconds", type=float, default=10.0)
    args = parser.parse_args(argv)
    genesis_path = args.out / "genesis.json"
    keys_dir = args.out / "keys"
    if genesis_path.exists() or any(keys_dir.glob("*.key")):
        print(f"{args.out} already holds keys or a genesis; refusing to overwrite", file=sys.stderr)
        return 1
    keys = DevnetKeys.generate(args.executors, args.validators)
    keys.save(keys_dir)
    genesis = build_genesis(
        keys, epoch_seconds=args.epoch_seconds, settle_grace_seconds=args.settle_grace_seconds
    )
    genesis.save(genesis_path)
    addresses = {name: key.address for name, key in keys.named().items()}
    print(json.dumps({"genesis": str(genesis_path), "participants": addresses}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
