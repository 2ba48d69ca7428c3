"""`remediator discover` against the sandbox over real HTTP, and the text it renders."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from remediator.cli import build_parser, main
from remediator.clock import FakeClock, SystemClock
from remediator.config.discovered import Found, entries, render, target_name
from remediator.config.loader import ConfigError, load_config
from remediator.config.model import NAME_PATTERN
from remediator.ncp.results import ClusterSummary
from remediator.sandbox import Sandbox
from remediator.sandbox.model import ClusterSpec
from tests.e2e import free_port

AK, SK = "DISCOVER-AK", "discover-sk"  # sandbox test keys, not secrets
HEALTH_KIND = "    #   kind: cmak "
HEALTH_URL = re.compile(r"^    #   url: http://MANAGER-HOST:9000 .*$", re.MULTILINE)


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    """The three example clusters (orders, payments, analytics), on the real clock."""
    with Sandbox(access_key=AK, secret_key=SK) as sandbox:
        yield sandbox


def write_config(tmp: Path, endpoint: str, targets: str = "", secret: str = SK) -> Path:
    """A configuration with file-held keys for `endpoint` and the given `targets:` items."""
    (tmp / "ak").write_text(AK + "\n")
    (tmp / "sk").write_text(secret + "\n")
    config = tmp / "remediator.yaml"
    config.write_text(
        f"""ncp:
  endpoint: "{endpoint}"
  access_key: {{file: "{tmp / "ak"}"}}
  secret_key: {{file: "{tmp / "sk"}"}}
  timeout: 2s
state: {{path: "{tmp / "state.db"}"}}
targets:{targets or " []"}
"""
    )
    return config


def discover(
    capsys: pytest.CaptureFixture[str], *argv: str, clock: FakeClock | None = None
) -> tuple[int, str, str]:
    """Run `remediator discover ARGV` in-process: (exit code, stdout, stderr)."""
    args = build_parser().parse_args(["discover", *argv])
    code = args.handler(args, clock=clock) if clock is not None else main(["discover", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def items(text: str) -> list[dict[str, Any]]:
    """The `targets:` items the text holds, as YAML reads them."""
    data = yaml.safe_load(text)
    assert set(data) == {"targets"}
    return list(data["targets"])


def entry_lines(text: str, name: str) -> list[str]:
    """The lines of the item named `name`, with the comment lines just before it."""
    lines = text.splitlines()
    start = next(
        n for n, line in enumerate(lines) if line.split("#")[0].split() == ["-", "name:", name]
    )
    while lines[start - 1].startswith("  # "):
        start -= 1
    end = start + 1
    while end < len(lines) and not lines[end].startswith("  -"):
        end += 1
    return lines[start:end]


def completed(text: str, urls: Mapping[str, tuple[str, str]]) -> str:
    """The items with their health blocks filled in, as an operator would: kind, URL, uncomment."""
    out: list[str] = []
    name = ""
    for line in text.splitlines():
        if line.startswith("  - name: "):
            name = line.split()[2]
        if line.startswith("    # health:"):
            out.append("    health:")
        elif line.startswith(HEALTH_KIND):
            out.append(f"      kind: {urls[name][0]}")
        elif HEALTH_URL.match(line):
            out.append(f'      url: "{urls[name][1]}"')
        else:
            out.append(line)
    return "\n".join(out) + "\n"


def test_lists_every_cluster_as_a_target_that_loads_once_its_health_is_completed(
    sb: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, sb.url)
    code, out, err = discover(capsys, "-c", str(config))
    assert (code, err) == (0, "")
    assert items(out) == [
        {
            "name": name,
            "cluster_no": no,
            "region": "KR",
            "cluster_health": {"interval": "60s"},
        }
        for name, no in (("orders", "1484848"), ("payments", "1484849"), ("analytics", "1484850"))
    ]
    # Pasted as printed, each item lacks its health block, and `check` says where.
    pasted = tmp_path / "pasted.yaml"
    pasted.write_text(config.read_text().replace("targets: []\n", "") + out)
    with pytest.raises(ConfigError) as raised:
        load_config(pasted)
    assert [(p.key, p.message) for p in raised.value.problems] == [
        (f"targets[{n}].health", "is required") for n in range(3)
    ]
    assert [p.line for p in raised.value.problems] == [
        pasted.read_text().splitlines().index(f"  - name: {name}") + 1
        for name in ("orders", "payments", "analytics")
    ]
    tools = {s.name: (s.tool, sb.tool_url(s.cluster_no)) for s in sb.clusters()}
    pasted.write_text(config.read_text().replace("targets: []\n", "") + completed(out, tools))
    loaded = load_config(pasted)
    assert [(t.name, t.cluster_no, t.region) for t in loaded.targets] == [
        ("orders", "1484848", "KR"),
        ("payments", "1484849", "KR"),
        ("analytics", "1484850", "KR"),
    ]
    assert [c.interval for c in loaded.cluster_checks()] == [60.0, 60.0, 60.0]
    assert [(h.target, h.url) for h in loaded.health_checks()] == [
        ("orders", tools["orders"][1] + "/api/health"),
        ("payments", tools["payments"][1] + "/actuator/health"),
        ("analytics", tools["analytics"][1] + "/api/health"),
    ]


def test_pages_through_more_than_a_hundred_clusters(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    specs = [ClusterSpec(str(2_000_000 + n), f"c{n:03d}") for n in range(150)]
    with Sandbox(access_key=AK, secret_key=SK, clusters=specs) as sandbox:
        code, out, _ = discover(capsys, "-c", str(write_config(tmp_path, sandbox.url)))
        pages = [
            json.loads(c.body or "null")
            for c in sandbox.calls
            if c.operation == "getClusterInfoList"
        ]
    assert code == 0
    assert pages == [{"pageNo": 1, "pageSize": 100}, {"pageNo": 2, "pageSize": 100}]
    listed = items(out)
    assert [t["cluster_no"] for t in listed] == [s.cluster_no for s in specs]
    assert [t["name"] for t in listed] == [s.name for s in specs]
    assert out.startswith(
        "# The clusters getClusterInfoList lists for this key (site public, region KR): 150\n"
    )


def test_marks_clusters_that_are_not_running(
    sb: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sb.set_state("1484850", "error")
    sb.set_state("1484849", "creating")
    code, out, _ = discover(capsys, "-c", str(write_config(tmp_path, sb.url)))
    assert code == 0
    assert entry_lines(out, "analytics")[0] == '  # NOT RUNNING: status "error" (in error)'
    assert entry_lines(out, "payments")[0] == '  # NOT RUNNING: status "creating" (being created)'
    assert entry_lines(out, "orders")[0].startswith("  - name: orders")
    assert "- 3 to add below, 2 of them not running (marked NOT RUNNING)" in out
    assert len(items(out)) == 3  # marked, still listed


def test_configured_clusters_are_only_mentioned_and_their_names_stay_taken(
    sb: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # `payments` is the name of another configured cluster; 1484848 is configured as `shop`.
    targets = """
  - name: shop
    cluster_no: "1484848"
    health: {kind: cmak, url: "http://10.0.1.5:9000"}
  - name: payments
    cluster_no: "999"
    health: {kind: kafka_ui, url: "http://10.0.2.7:8080"}
"""
    config = write_config(tmp_path, sb.url, targets)
    code, out, _ = discover(capsys, "-c", str(config))
    assert code == 0
    assert [(t["name"], t["cluster_no"]) for t in items(out)] == [
        ("payments-1484849", "1484849"),
        ("analytics", "1484850"),
    ]
    assert (
        '  # already configured as target "shop": cluster_no "1484848", '
        'serviceGroupName "orders", KR, status "running"'
    ) in out.splitlines()
    assert f"- 1 already in {config} (mentioned in comments only)" in out
    # Pasted under the existing targets, it loads: no duplicate name, no duplicate cluster.
    tools = {"payments-1484849": ("kafka_ui", sb.tool_url("1484849"))}
    tools["analytics"] = ("cmak", sb.tool_url("1484850"))
    merged = tmp_path / "merged.yaml"
    body = completed(out, tools).split("targets:\n", 1)[1]
    merged.write_text(config.read_text() + body)
    assert [t.name for t in load_config(merged).targets] == [
        "shop",
        "payments",
        "payments-1484849",
        "analytics",
    ]


def test_every_cluster_configured_gives_an_empty_list(
    sb: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    targets = "".join(
        f'\n  - {{name: t{no}, cluster_no: "{no}", health: {{kind: cmak, url: "http://h:9000"}}}}'
        for no in ("1484848", "1484849", "1484850")
    )
    code, out, _ = discover(capsys, "-c", str(write_config(tmp_path, sb.url, targets + "\n")))
    assert code == 0
    assert yaml.safe_load(out) == {"targets": []}
    assert out.count("# already configured as target") == 3
    assert "Paste" not in out


@pytest.mark.parametrize(
    ("listed", "expected"),
    [
        ("Orders Prod!", "orders-prod"),
        ("__Kafka.Main__", "kafka.main"),
        ("결제-payments", "payments"),
        ("결제", "cluster-7000003"),
        ("Café", "cafe"),
        ("---", "cluster-7000003"),
        (None, "cluster-7000003"),
    ],
)
def test_target_names_are_made_valid(listed: str | None, expected: str) -> None:
    assert target_name(listed, "7000003") == expected
    assert NAME_PATTERN.fullmatch(expected)


def test_names_are_sanitised_and_unique_over_real_http(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    specs = [
        ClusterSpec("7000001", "Orders"),
        ClusterSpec("7000002", "orders"),
        ClusterSpec("7000003", "결제"),
        ClusterSpec("7000004", "true"),
        ClusterSpec("7000005", "ORDERS!"),
    ]
    with Sandbox(access_key=AK, secret_key=SK, clusters=specs) as sandbox:
        code, out, _ = discover(capsys, "-c", str(write_config(tmp_path, sandbox.url)))
    assert code == 0
    assert [t["name"] for t in items(out)] == [
        "orders",
        "orders-7000002",
        "cluster-7000003",
        "true",  # quoted in the YAML, so that it stays a name and not a boolean
        "orders-7000005",
    ]
    assert '  - name: orders                  # serviceGroupName "Orders"' in out.splitlines()
    assert '  - name: "true"' in out.splitlines()
    assert '# serviceGroupName "결제"' in out


def test_write_puts_the_same_text_in_a_file_and_never_replaces_one_unasked(
    sb: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = str(write_config(tmp_path, sb.url))
    _, printed, _ = discover(capsys, "-c", config)
    target = tmp_path / "targets.yaml"
    code, out, err = discover(capsys, "-c", config, "--write", str(target))
    assert (code, err) == (0, "")
    assert out == f"remediator discover: wrote 3 clusters (3 to add) to {target}\n"
    assert target.read_text() == printed

    target.write_text("# my edits\n")
    calls = len(sb.calls)
    code, out, err = discover(capsys, "-c", config, "--write", str(target))
    assert (code, out) == (2, "")
    assert err == f"remediator discover: {target} exists; give --force to replace it\n"
    assert target.read_text() == "# my edits\n"
    assert len(sb.calls) == calls, "refused before asking CDSS"

    code, _, _ = discover(capsys, "-c", config, "--write", str(target), "--force")
    assert code == 0
    assert target.read_text() == printed

    code, _, err = discover(capsys, "-c", config, "--force")
    assert (code, err) == (2, "remediator discover: --force only goes with --write FILE\n")


def _one_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("remediator discover: CDSS getClusterInfoList: "), err
    return lines[0]


def test_a_wrong_secret_key_is_explained_in_one_line(
    sb: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, sb.url, secret="not-the-secret")
    code, out, err = discover(capsys, "-c", str(config))
    assert (code, out) == (1, "")
    line = _one_line(err)
    assert "authentication failed (HTTP 401, errorCode 200" in line
    assert f"secret key from file:{tmp_path / 'sk'}" in line
    assert "so the clock looks fine: check the keys" in line
    assert "not-the-secret" not in err


def test_permission_denied_is_explained_in_one_line(
    sb: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sb.inject_error(401, "210", operation="getClusterInfoList")
    code, _, err = discover(capsys, "-c", str(write_config(tmp_path, sb.url)))
    assert code == 1
    assert "permission denied: the key lacks the permission (HTTP 401, errorCode 210" in _one_line(
        err
    )


def test_a_skewed_clock_is_named_as_the_likely_cause(
    sb: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ahead = FakeClock(start=SystemClock().now() + 600)  # this host's clock, 10 minutes fast
    config = write_config(tmp_path, sb.url)
    code, _, err = discover(capsys, "-c", str(config), clock=ahead)
    assert code == 1
    line = _one_line(err)
    assert "authentication failed" in line
    assert "Likely cause: the host clock" in line
    assert re.search(r"the local clock is 60[01] s ahead of the gateway's", line), line


def test_an_unreachable_endpoint_is_explained_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clock = FakeClock()  # the retries' backoff passes on it, not on the wall
    config = write_config(tmp_path, f"http://127.0.0.1:{free_port()}")
    code, out, err = discover(capsys, "-c", str(config), clock=clock)
    assert (code, out) == (1, "")
    line = _one_line(err)
    assert "could not connect" in line and "(gave up after 3 attempts)" in line
    assert len(clock.sleeps) == 2


def test_a_bad_configuration_exits_2_with_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, "http://127.0.0.1:9")
    config.write_text(config.read_text().replace("timeout: 2s", "timeout: 2"))
    code, out, err = discover(capsys, "-c", str(config))
    assert (code, out) == (2, "")
    assert err.startswith(f"{config}:5: ncp.timeout: a bare number is not a duration")


def test_a_missing_key_exits_2_and_other_secrets_are_not_needed(
    sb: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, sb.url)
    # A webhook token that does not exist yet: discover does not need it.
    text = config.read_text() + "server: {webhook_token: {credential: webhook-token}}\n"
    config.write_text(text)
    assert discover(capsys, "-c", str(config))[0] == 0
    (tmp_path / "sk").unlink()
    code, _, err = discover(capsys, "-c", str(config))
    assert code == 2
    assert err.startswith(f"{config}:4: ncp.secret_key: ")


def test_a_config_of_only_ncp_takes_the_keys_from_ncps_environment_variables(
    sb: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The README's first step: no key references, no targets, no rules; nothing else read."""
    config = tmp_path / "discover.yaml"
    config.write_text(f'ncp: {{site: public, region: KR, endpoint: "{sb.url}"}}\n')
    args = build_parser().parse_args(["discover", "-c", str(config)])
    environ = {"NCLOUD_ACCESS_KEY": AK, "NCLOUD_SECRET_KEY": SK, "HOME": str(tmp_path)}
    assert args.handler(args, environ=environ) == 0
    out = capsys.readouterr().out
    assert [t["name"] for t in items(out)] == ["orders", "payments", "analytics"]
    assert list(tmp_path.iterdir()) == [config], "no ledger, no file written"


def test_another_region_is_listed_under_its_own_prefix(
    sb: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = str(write_config(tmp_path, sb.url))
    code, out, _ = discover(capsys, "-c", config, "--region", "SGN")
    assert code == 0
    assert {t["region"] for t in items(out)} == {"SGN"}
    assert [c.target for c in sb.calls] == ["/api/sgn-v1/cluster/getClusterInfoList"]
    code, _, err = discover(capsys, "-c", config, "--region", "KRS")
    assert code == 2
    assert "--region KRS: region 'KRS' does not exist on site 'public'" in err


def _summary(n: int, name: str | None, status: str | None) -> Found:
    return Found("KR", ClusterSummary(str(1000 + n), name, status, None))


@given(
    st.lists(
        st.tuples(
            st.one_of(st.none(), st.text(max_size=20)), st.sampled_from(["running", "error"])
        ),
        max_size=12,
    ),
    st.text(max_size=30),
)
def test_any_listing_renders_as_yaml_with_valid_unique_names(
    listing: list[tuple[str | None, str]], config: str
) -> None:
    found = [_summary(n, name, status) for n, (name, status) in enumerate(listing)]
    configured = {"1000": "taken"} if found else {}
    text = render(entries(found, configured), config=config, site="public", regions=["KR"])
    targets = yaml.safe_load(text)["targets"]
    names = [t["name"] for t in targets]
    assert all(isinstance(n, str) and NAME_PATTERN.fullmatch(n) for n in names)
    assert len(set(names)) == len(names) and "taken" not in names
    assert [t["cluster_no"] for t in targets] == [f.cluster.cluster_no for f in found[1:]]
