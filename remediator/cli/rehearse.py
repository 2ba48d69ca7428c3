"""`remediator demo` and `remediator sandbox`: rehearsals against the local CDSS simulator."""

from __future__ import annotations

import argparse

from remediator.cli.common import Subparsers


def demo(args: argparse.Namespace) -> int:
    """The `demo` subcommand's handler."""
    from remediator.demo.scenario import main as demo_main

    return demo_main(args)


def sandbox(args: argparse.Namespace) -> int:
    """The `sandbox` subcommand's handler."""
    from remediator.sandbox.cli import main as sandbox_main

    return sandbox_main(args)


def add_parsers(sub: Subparsers) -> None:
    """The `demo` and `sandbox` subcommands."""
    p = sub.add_parser(
        "demo",
        help="see remediator restart only what is broken, against a local simulated CDSS "
        "(no setup)",
        description="A narrated rehearsal that needs no setup and touches no cloud: start the "
        "sandbox (a simulated CDSS gateway that verifies signature v2, with a CMAK and a "
        "Kafka-UI cluster of three brokers each), run the real daemon against it with a "
        "bundled configuration, and tell what happens, the blast radius said before each "
        "action. A broker goes red: the cluster's status shows it, the rule trips, the guards "
        "pass, the look before acting finds that broker's node, restartKafkaServicePerNode "
        "restarts it alone, and verification sees it green again. Then CMAK fails with every "
        "broker green: restartCMAKService is withdrawn by NCP, and the cluster-wide "
        "restartAllServices is above the rule's max_blast_radius, so no broker restarts; the "
        "cooldown holds the next try back. Then the metrics, the sandbox's own record of "
        "restarts, and a summary. About 20 seconds; exit 0 when everything happened as "
        "expected, 1 otherwise.",
    )
    p.add_argument(
        "--keep",
        action="store_true",
        help="keep the demo's directory afterwards: its configuration, rules, ledger and the "
        "daemon's JSON log (it is kept anyway when the demo fails)",
    )
    p.set_defaults(handler=demo)

    from remediator.sandbox.cli import add_arguments as sandbox_arguments

    p = sub.add_parser(
        "sandbox",
        help="run the local CDSS simulator (signed gateway, clusters, CMAK / Kafka-UI, faults)",
        description="Run the local CDSS simulator for rehearsing rules: a gateway that verifies "
        "signature v2 and the timestamp window, cluster state, CMAK and Kafka-UI endpoints, "
        "and fault injection over /_sandbox/.",
    )
    sandbox_arguments(p)
    p.set_defaults(handler=sandbox)
