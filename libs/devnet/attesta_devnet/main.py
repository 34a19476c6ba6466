"""`attesta-devnet up`: the whole network on this machine, until Ctrl-C."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import time
from pathlib import Path
from types import FrameType

from attesta_devnet.network import Network, NetworkConfig

_HOW_TO_CALL = """
Attesta is running: gateway on {url}, {executors} executors, {validators} validators,
chain-writer and epoch-settler (epochs of {epoch:.0f} s). Logs: {logs}

  curl {url}/v1/chat/completions \\
    -H "Authorization: Bearer {key}" -H "Content-Type: application/json" \\
    -d '{{"model": "SmolLM2-135M-Instruct", "messages": [{{"role": "user", "content": "Hello!"}}], "max_tokens": 32}}'

  python -c 'from openai import OpenAI; c = OpenAI(base_url="{url}/v1", api_key="{key}"); \\
print(c.chat.completions.create(model="SmolLM2-135M-Instruct", messages=[{{"role": "user", "content": "Hi"}}], max_tokens=32))'

Then GET {url}/v1/inferences/<id> shows the receipt, the verdicts and, once anchored,
the Merkle inclusion proof. Press Ctrl-C to stop everything.
"""


def _config(args: argparse.Namespace) -> NetworkConfig:
    return NetworkConfig(
        data_dir=args.data_dir.resolve(),
        executors=args.executors,
        validators=args.validators,
        epoch_seconds=args.epoch_seconds,
        settle_grace_seconds=args.settle_grace_seconds,
        gateway_port=args.port,
        nats_url=os.environ.get("NATS_URL") or None,
        database_url=os.environ.get("DATABASE_URL") or None,
        dev_api_key=os.environ.get("ATTESTA_DEV_API_KEY", "sk-attesta-dev"),
        canary_rate=args.canary_rate,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="attesta-devnet")
    parser.add_argument("command", choices=["up"])
    parser.add_argument("--data-dir", type=Path, default=Path(".data"))
    parser.add_argument("--executors", type=int, default=2)
    parser.add_argument("--validators", type=int, default=2)
    parser.add_argument("--epoch-seconds", type=float, default=60.0)
    parser.add_argument("--settle-grace-seconds", type=float, default=10.0)
    parser.add_argument("--port", type=int, default=int(os.environ.get("ATTESTA_PORT", "8000")))
    parser.add_argument(
        "--canary-rate",
        type=float,
        default=0.01,
        help="chance a request is followed by a canary (executor-0 spoils them); 0: off",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level="INFO", format="%(asctime)s devnet: %(message)s")
    # Readiness polling would otherwise log every probe.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    network = Network(_config(args))

    def _interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _interrupt)
    try:
        print("starting NATS, Postgres and the services (the first run converts the model)...")
        network.start()
        print(
            _HOW_TO_CALL.format(
                url=network.gateway_url,
                key=network.config.dev_api_key,
                executors=args.executors,
                validators=args.validators,
                epoch=args.epoch_seconds,
                logs=network.config.data_dir / "logs",
            )
        )
        while True:
            for service in network.services:
                if not service.alive:
                    print(f"{service.name} stopped unexpectedly:\n{service.log_tail()}")
                    raise SystemExit(1)
            time.sleep(1)
    except KeyboardInterrupt:
        print("\nstopping...")
    except RuntimeError as exc:
        print(f"start-up failed: {exc}", file=sys.stderr)
        network.stop()
        raise SystemExit(1) from exc
    network.stop()
    print("stopped.")


if __name__ == "__main__":
    main()
