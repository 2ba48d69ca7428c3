"""remediator: safe auto-remediation for CMAK / Kafka-UI on NAVER Cloud CDSS."""

__version__ = "0.1.0"
