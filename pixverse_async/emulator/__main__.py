"""``python -m pixverse_async.emulator --port N``: serve the emulator until interrupted."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys

from .app import EmulatorConfig
from .faults import FaultConfig
from .rate_limit import RequestRateLimit, parse_rate_limit
from .server import Emulator
from .webhooks import WebhookEndpoint, parse_webhook_option


def _rate_limit(text: str) -> RequestRateLimit:
    try:
        return parse_rate_limit(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _webhook(text: str) -> tuple[str, WebhookEndpoint]:
    try:
        return parse_webhook_option(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


#: The key the emulator accepts when it is given none.
DEFAULT_API_KEY = ", ".join(sorted(EmulatorConfig().api_keys))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m pixverse_async.emulator", description="Serve a local PixVerse emulator."
    )
    add_arguments(parser)
    return parser


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (0 picks a free one)")
    parser.add_argument(
        "--api-key",
        action="append",
        dest="api_keys",
        metavar="KEY",
        help=f"accepted API key (repeatable; default: {DEFAULT_API_KEY})",
    )
    parser.add_argument(
        "--generation-seconds",
        type=float,
        default=2.0,
        help="how long each generation runs (default 2.0)",
    )
    parser.add_argument(
        "--concurrency-limit",
        type=int,
        default=100,
        help="generations one key may run at once (default 100)",
    )
    parser.add_argument(
        "--rate-limit",
        type=_rate_limit,
        default=None,
        metavar="REQUESTS/SECONDS",
        help="API requests one key may make per window, e.g. 10/1; more are answered HTTP 429"
        " with Retry-After (default: no limit)",
    )
    parser.add_argument(
        "--fault-rate",
        type=float,
        default=0.0,
        help="rate of each injected fault: 500, 502, reset, slow, 429",
    )
    parser.add_argument(
        "--failure-rate", type=float, default=0.0, help="share of generations that fail"
    )
    parser.add_argument("--seed", type=int, default=None, help="seed for faults and outcomes")
    parser.add_argument(
        "--webhook",
        action="append",
        dest="webhooks",
        type=_webhook,
        metavar="ID=URL,SECRET",
        help="deliver signed webhooks for generations sent with webhook_id ID (repeatable)",
    )
    parser.add_argument(
        "--webhook-retry-scale",
        type=float,
        default=1.0,
        metavar="FACTOR",
        help="factor on the webhook retry delays 2 s ... 4 h (default 1)",
    )


def config_from_args(args: argparse.Namespace) -> EmulatorConfig:
    return EmulatorConfig(
        api_keys=frozenset(args.api_keys) if args.api_keys else EmulatorConfig().api_keys,
        generation_seconds=args.generation_seconds,
        max_concurrent_generations=args.concurrency_limit,
        rate_limit=args.rate_limit,
        failure_rate=args.failure_rate,
        faults=FaultConfig.uniform(args.fault_rate, seed=args.seed),
        seed=args.seed,
        webhooks=dict(args.webhooks or ()),
        webhook_retry_scale=args.webhook_retry_scale,
    )


def accepted_keys_line(config: EmulatorConfig) -> str:
    """Which API key the emulator accepts: the default is named, keys chosen are only counted."""
    if config.api_keys == EmulatorConfig().api_keys:
        return f"accepts API key {DEFAULT_API_KEY} (choose with --api-key KEY)"
    return f"accepts the {len(config.api_keys)} API key(s) given with --api-key"


async def serve(config: EmulatorConfig, host: str, port: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    async with Emulator(config, host=host, port=port) as emu:
        print(f"PixVerse emulator listening on {emu.base_url}", flush=True)
        print(accepted_keys_line(config), flush=True)
        await stop.wait()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    asyncio.run(serve(config_from_args(args), args.host, args.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
