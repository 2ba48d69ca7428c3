"""Signature v2 against the published known-answer vectors, and the site/region table."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from remediator.clock import FakeClock
from remediator.ncp import signing, sites
from remediator.ncp.client import CdssClient, Credentials

FIXTURES = Path(__file__).parent / "fixtures" / "ncp"
VECTORS: list[dict[str, Any]] = json.loads((FIXTURES / "signature-vectors.json").read_text())[
    "vectors"
]


@pytest.mark.parametrize("v", VECTORS, ids=lambda v: f"{v['method']} {v['request_target']}")
def test_every_known_answer_vector_is_reproduced(v: dict[str, Any]) -> None:
    got = signing.sign(
        v["method"], v["request_target"], v["timestamp"], v["access_key"], v["secret_key"]
    )
    assert got == v["signature"]


def test_string_to_sign_is_method_space_target_lf_timestamp_lf_access_key() -> None:
    text = signing.string_to_sign("get", "/api/v1/x?a=1", "1593848345548", "AK")
    assert text == "GET /api/v1/x?a=1\n1593848345548\nAK"


def test_signing_covers_the_exact_query_bytes() -> None:
    # `my%20cluster` and `my+cluster` decode alike but are different bytes on the wire.
    by_target = {v["request_target"]: v["signature"] for v in VECTORS}
    assert (
        by_target["/api/v1/cluster/getClusterInfoList?inputText=my%20cluster"]
        != by_target["/api/v1/cluster/getClusterInfoList?inputText=my+cluster"]
    )


def test_signed_headers_carry_a_millisecond_timestamp_and_the_matching_signature() -> None:
    v = VECTORS[0]
    now = int(v["timestamp"]) / 1000
    headers = signing.signed_headers(
        v["method"], v["request_target"], now, v["access_key"], v["secret_key"]
    )
    assert headers == {
        "x-ncp-apigw-timestamp": v["timestamp"],
        "x-ncp-iam-access-key": v["access_key"],
        "x-ncp-apigw-signature-v2": v["signature"],
        "Content-Type": "application/json",
    }
    assert len(base64.b64decode(headers["x-ncp-apigw-signature-v2"])) == 32


@pytest.mark.parametrize(
    ("site", "region", "base"),
    [
        ("public", "KR", "https://clouddatastreamingservice.apigw.ntruss.com/api/v1"),
        ("public", "SGN", "https://clouddatastreamingservice.apigw.ntruss.com/api/sgn-v1"),
        ("public", "JPN", "https://clouddatastreamingservice.apigw.ntruss.com/api/jpn-v1"),
        ("gov", "KR", "https://clouddatastreamingservice.apigw.gov-ntruss.com/api/v1"),
        ("gov", "KRS", "https://clouddatastreamingservice.apigw.gov-ntruss.com/api/krs-v1"),
        ("fin", "KR", "https://fin-clouddatastreamingservice.apigw.fin-ntruss.com/api/v1"),
    ],
)
def test_site_and_region_give_the_documented_host_and_prefix(
    site: str, region: str, base: str
) -> None:
    assert sites.host(site) + sites.prefix(site, region) == base
    client = CdssClient(
        credentials=Credentials.of("AK", "SK"), clock=FakeClock(), site=site, region=region
    )
    assert client.base_url() == base


@pytest.mark.parametrize(("site", "region"), [("public", "KRS"), ("gov", "SGN"), ("fin", "JPN")])
def test_a_region_the_site_does_not_have_is_refused_by_name(site: str, region: str) -> None:
    with pytest.raises(ValueError, match=rf"region '{region}' does not exist on site '{site}'"):
        sites.prefix(site, region)
    with pytest.raises(ValueError, match=region):
        CdssClient(
            credentials=Credentials.of("AK", "SK"), clock=FakeClock(), site=site, region=region
        )


def test_an_unknown_site_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown site 'moon'"):
        sites.host("moon")
    with pytest.raises(ValueError, match="unknown site 'moon'"):
        sites.prefix("moon", "KR")


def test_endpoint_override_replaces_the_host_and_keeps_the_prefix() -> None:
    assert sites.host("public", "http://127.0.0.1:8480/") == "http://127.0.0.1:8480"
    client = CdssClient(
        credentials=Credentials.of("AK", "SK"),
        clock=FakeClock(),
        site="gov",
        region="KRS",
        endpoint="http://127.0.0.1:8480",
    )
    assert client.base_url() == "http://127.0.0.1:8480/api/krs-v1"
    assert client.base_url("KR") == "http://127.0.0.1:8480/api/v1"
