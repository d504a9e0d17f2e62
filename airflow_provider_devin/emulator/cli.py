"""``devin-emulator``: serve the Devin API emulator from the command line.

The listening socket is bound, and the base URL printed (first stdout line, flushed), before the
web stack is imported, so ``--port 0`` reports its URL well within two seconds; connections made
in the meantime wait in the socket's backlog and are answered as soon as the app is loaded.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys

from airflow_provider_devin.emulator import DEFAULT_API_KEY, DEFAULT_SPEED, DEFAULT_V3_API_KEY

ENV_API_KEYS = "DEVIN_EMULATOR_API_KEYS"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="devin-emulator",
        description="A local Devin API (v1 and the v3 organization API) for tests and offline DAG development.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default: loopback)")
    parser.add_argument("--port", type=int, default=8787, help="TCP port; 0 picks a free one (default 8787)")
    parser.add_argument(
        "--speed",
        type=float,
        default=DEFAULT_SPEED,
        help=f"emulated seconds per real second (default {DEFAULT_SPEED:g}: a minute passes in a second)",
    )
    parser.add_argument(
        "--api-key",
        action="append",
        dest="api_keys",
        metavar="KEY",
        help=(
            f"accepted API key, cog_... for v3 (repeatable; default {DEFAULT_API_KEY!r} and "
            f"{DEFAULT_V3_API_KEY!r}, or ${ENV_API_KEYS} comma-separated)"
        ),
    )
    parser.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    parser.add_argument("--access-log", action="store_true", help="log every request (off by default: benchmarks)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.speed <= 0:
        print("devin-emulator: --speed must be > 0", file=sys.stderr)
        return 2
    keys = args.api_keys or [k for k in os.environ.get(ENV_API_KEYS, "").split(",") if k.strip()]
    keys = [k.strip() for k in keys] or [DEFAULT_API_KEY, DEFAULT_V3_API_KEY]

    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((args.host, args.port))
    except OSError as err:
        print(f"devin-emulator: cannot bind {args.host}:{args.port}: {err}", file=sys.stderr)
        return 1
    sock.listen(512)
    port = sock.getsockname()[1]
    host = f"[{args.host}]" if ":" in args.host else args.host
    print(f"http://{host}:{port}", flush=True)

    import uvicorn

    from airflow_provider_devin.emulator.app import create_app

    app = create_app(speed=args.speed, api_keys=keys)
    print(
        f"devin-emulator: serving the Devin v1 and v3 APIs on http://{host}:{port} (speed {args.speed:g}x, "
        f"{len(keys)} accepted key(s); control API under /_emulator/)",
        file=sys.stderr,
        flush=True,
    )
    config = uvicorn.Config(
        app,
        log_level=args.log_level,
        lifespan="off",
        proxy_headers=False,
        server_header=False,
        access_log=args.access_log,
        timeout_graceful_shutdown=2,
        backlog=512,
    )
    uvicorn.Server(config).run(sockets=[sock])
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
