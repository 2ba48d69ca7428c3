"""The local CDSS simulator ("the sandbox") used by `remediator sandbox`, the demo and tests.

It serves, on one loopback address, the CDSS API paths behind a gateway that verifies NCP
signature v2 and the timestamp window, a cluster state machine driven by an injected clock,
each cluster's nodes (a manager and three or more brokers, with ZooKeeper on three of them),
its CMAK or Kafka-UI, fault injection and an unsigned admin API (`/_sandbox/`).
"""

from remediator.sandbox.calls import RecordedCall
from remediator.sandbox.model import EXAMPLE_CLUSTERS, ClusterSnapshot, ClusterSpec
from remediator.sandbox.nodes import NodeSnapshot
from remediator.sandbox.server import DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY, Sandbox

__all__ = [
    "DEFAULT_ACCESS_KEY",
    "DEFAULT_SECRET_KEY",
    "EXAMPLE_CLUSTERS",
    "ClusterSnapshot",
    "ClusterSpec",
    "NodeSnapshot",
    "RecordedCall",
    "Sandbox",
]
