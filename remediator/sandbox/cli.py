"""`remediator sandbox`: run the simulator in the foreground and log each gateway call.

Keys come from `--access-key/--secret-key`, else `REMEDIATOR_SANDBOX_ACCESS_KEY` /
`REMEDIATOR_SANDBOX_SECRET_KEY`, else the fixed, fake sandbox defaults — which are printed,
since they protect nothing; a secret key the user supplied is never printed.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import sys
import threading
from datetime import UTC, datetime
from types import FrameType
from typing import TextIO

from remediator.sandbox.calls import RecordedCall
from remediator.sandbox.server import DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY, Sandbox

ENV_ACCESS_KEY = "REMEDIATOR_SANDBOX_ACCESS_KEY"
ENV_SECRET_KEY = "REMEDIATOR_SANDBOX_SECRET_KEY"  # noqa: S105 - a variable name
DEFAULT_LISTEN = "127.0.0.1:8480"

_DURATION = re.compile(r"(?P<n>\d+(?:\.\d+)?)(?P<unit>ms|s|m|h)?")
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def duration(text: str) -> float:
    """`5s`, `500ms`, `2m`, `1h` or plain seconds, as seconds."""
    m = _DURATION.fullmatch(text.strip())
    if m is None:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (e.g. 5s, 500ms, 2m)")
    return float(m["n"]) * _UNIT[m["unit"]]


def listen_address(text: str) -> tuple[str, int]:
    """`HOST:PORT` (IPv6 as `[::1]:PORT`; port 0 picks a free one)."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise argparse.ArgumentTypeError(f"not HOST:PORT: {text!r}")
    return (host.strip("[]") or "127.0.0.1", int(port))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `remediator sandbox`."""
    parser.add_argument(
        "--listen",
        type=listen_address,
        default=listen_address(DEFAULT_LISTEN),
        metavar="HOST:PORT",
        help=f"address to serve on (default {DEFAULT_LISTEN}; port 0 picks a free one)",
    )
    parser.add_argument("--access-key", metavar="AK", help="access key the gateway accepts")
    parser.add_argument("--secret-key", metavar="SK", help="secret key the gateway verifies with")
    parser.add_argument(
        "--restart-delay",
        type=duration,
        default=5.0,
        metavar="DURATION",
        help="how long a restart keeps a cluster changing (default 5s)",
    )
    parser.add_argument(
        "--node-restart-delay",
        type=duration,
        default=None,
        metavar="DURATION",
        help="how long one broker's restart takes, per node and in each step of a rolling "
        "restart (default: the restart delay)",
    )
    parser.add_argument(
        "--cmak-restart",
        choices=["auto", "available", "withdrawn"],
        default="auto",
        help="whether restartCMAKService exists; auto: withdrawn from 2026-09-17 (default)",
    )


def _keys(args: argparse.Namespace) -> tuple[str, str, str]:
    """(access key, secret key, how to show the secret)."""
    access = args.access_key or os.environ.get(ENV_ACCESS_KEY) or DEFAULT_ACCESS_KEY
    given_secret = args.secret_key or os.environ.get(ENV_SECRET_KEY)
    if given_secret:
        return access, given_secret, "(given; not shown)"
    if access != DEFAULT_ACCESS_KEY:
        raise ValueError("an access key was given without its secret key")
    return access, DEFAULT_SECRET_KEY, f"{DEFAULT_SECRET_KEY}   (fixed sandbox key, not a secret)"


def format_call(call: RecordedCall) -> str:
    """One log line for a gateway call."""
    when = datetime.fromtimestamp(call.time, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    status = "no response" if call.http_status is None else str(call.http_status)
    if not call.verified:
        verdict = f"rejected: {call.reason}" + (f" ({call.detail})" if call.detail else "")
    else:
        verdict = "verified"
        if call.error_code is not None:
            verdict += f" errorCode={call.error_code}"
        if call.code is not None:
            verdict += f" code={call.code}"
        if call.applied:
            verdict += " APPLIED"
        if call.reason:
            verdict += f" ({call.reason})"
    body = f" {call.body}" if call.body else ""
    return f"{when} {call.method} {call.target}{body} -> {status} {verdict}"


def _banner(sb: Sandbox, secret_shown: str, delays: tuple[float, float], out: TextIO) -> None:
    lines = [
        f"remediator sandbox listening on {sb.url}",
        f"  gateway:        {sb.url}/api/v1/cluster/... (also /api/sgn-v1, /api/jpn-v1, "
        "/api/krs-v1); signature v2 required",
        f"  access key:     {sb.access_key}",
        f"  secret key:     {secret_shown}",
        f"  restart delay:  {delays[0]:g}s (a broker: {delays[1]:g}s)",
        "  clusters:",
    ]
    for c in sb.clusters():
        lines.append(
            f"    {c.cluster_no}  {c.name:<10} {c.tool:<8}  {sb.tool_url(c.cluster_no)}"
            f"   restartCMAKService: {c.cmak_restart}"
        )
        hosts = ", ".join(f"{n.host_name} ({n.compute_instance_no})" for n in c.nodes)
        lines.append(f"      nodes: {hosts}")
    lines.append(f"  admin API:      {sb.admin_url}/ (unsigned, loopback only)")
    lines.append("logging each gateway call; Ctrl-C or SIGTERM stops")
    print("\n".join(lines), file=out, flush=True)


def main(args: argparse.Namespace) -> int:
    """Run until SIGINT or SIGTERM; 0 on a clean stop, 2 on bad usage, 1 if it cannot serve."""
    try:
        access, secret, secret_shown = _keys(args)
    except ValueError as e:
        print(f"remediator sandbox: {e}", file=sys.stderr)
        return 2
    host, port = args.listen

    def log_call(call: RecordedCall) -> None:
        print(format_call(call), flush=True)

    sandbox = Sandbox(
        access_key=access,
        secret_key=secret,
        host=host,
        port=port,
        restart_delay=args.restart_delay,
        node_restart_delay=args.node_restart_delay,
        cmak_restart=args.cmak_restart,
        on_call=log_call,
    )
    try:
        sandbox.start()
    except OSError as e:
        print(f"remediator sandbox: cannot listen on {host}:{port}: {e}", file=sys.stderr)
        return 1
    done = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        done.set()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        delays = (args.restart_delay, args.node_restart_delay)
        if delays[1] is None:
            delays = (args.restart_delay, args.restart_delay)
        _banner(sandbox, secret_shown, delays, sys.stdout)
        while not done.wait(1.0):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        sandbox.stop()
    print("remediator sandbox stopped", flush=True)
    return 0
