"""Where CDSS lives: the host of each site and the path prefix of each region."""

from __future__ import annotations

from typing import Literal

Site = Literal["public", "gov", "fin"]

HOSTS: dict[str, str] = {
    "public": "https://clouddatastreamingservice.apigw.ntruss.com",
    "gov": "https://clouddatastreamingservice.apigw.gov-ntruss.com",
    "fin": "https://fin-clouddatastreamingservice.apigw.fin-ntruss.com",
}

PREFIXES: dict[str, dict[str, str]] = {
    "public": {"KR": "/api/v1", "SGN": "/api/sgn-v1", "JPN": "/api/jpn-v1"},
    "gov": {"KR": "/api/v1", "KRS": "/api/krs-v1"},
    "fin": {"KR": "/api/v1"},
}


def host(site: str, endpoint: str | None = None) -> str:
    """The base URL to send to: the override if given, else the site's host."""
    if endpoint:
        return endpoint.rstrip("/")
    try:
        return HOSTS[site]
    except KeyError:
        raise ValueError(f"unknown site {site!r} (one of {', '.join(HOSTS)})") from None


def prefix(site: str, region: str) -> str:
    """The API path prefix of `region` on `site`."""
    regions = PREFIXES.get(site)
    if regions is None:
        raise ValueError(f"unknown site {site!r} (one of {', '.join(PREFIXES)})")
    try:
        return regions[region]
    except KeyError:
        raise ValueError(
            f"region {region!r} does not exist on site {site!r} (one of {', '.join(regions)})"
        ) from None
