"""The monitoring kit of deploy/: every PromQL expression of the Grafana dashboard and the Prometheus
rules parses, and every metric it names is one the exporter serves (scraped from the real /metrics
app over the memory adapter); runbook links land on headings of docs/operations.md; the scrape
config of docs/integration.md works as written."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import attrs
import httpx
import promql_parser
import pytest
import yaml
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from semantik_chunks.adapters.memory.chunks import InMemoryChunkRepository, InMemoryCollectionRepository
from semantik_chunks.adapters.memory.database import MemoryDatabase
from semantik_chunks.adapters.memory.statistics import InMemoryPartitionStatistics
from semantik_chunks.domain.clock import utc_now
from semantik_chunks.domain.model import PartitionSnapshot
from semantik_chunks.domain.thresholds import Thresholds
from semantik_chunks.entrypoints.metrics import make_metrics_app
from tests.host_data import memory_container
from tests.monitoring_data import PARTITION_COUNT, Backend, load_giant

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "semantik-chunks.json"
RULES = ROOT / "deploy" / "prometheus" / "rules.yml"
OPERATIONS = ROOT / "docs" / "operations.md"
INTEGRATION = ROOT / "docs" / "integration.md"


def metric_names(node: Any) -> Iterator[str]:
    """The metric names an expression selects, from promql_parser's syntax tree."""
    if isinstance(node, promql_parser.VectorSelector):
        if node.name:
            yield node.name
        for matcher in node.matchers.matchers:
            if matcher.name == "__name__":
                yield matcher.value
        return
    for attribute in ("lhs", "rhs", "expr", "param", "vector_selector"):
        child = getattr(node, attribute, None)
        if child is not None:
            yield from metric_names(child)
    for child in getattr(node, "args", None) or ():
        yield from metric_names(child)


def dashboard_expressions() -> list[tuple[str, str]]:
    """``(where, PromQL)`` for every target of every panel, and the variables' ``label_values`` metrics."""
    dashboard = json.loads(DASHBOARD.read_text())
    found = [(f"panel {p['title']!r}", t["expr"]) for p in dashboard["panels"] for t in p["targets"]]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            [selector] = re.findall(r"label_values\(([^,]+),", variable["definition"])
            found.append((f"variable {variable['name']!r}", selector))
    return found


def rule_expressions() -> list[tuple[str, str]]:
    rules = yaml.safe_load(RULES.read_text())
    return [(f"rule {r['alert']}", r["expr"]) for group in rules["groups"] for r in group["rules"]]


def served_metrics() -> set[str]:
    """The families the exporter serves, scraped over the memory adapter with every family filled:
    issue 14's giant collection, a byte budget (``capacity_budget_bytes``), and a history in which
    partition 13 grows towards its budget (``partition_days_until_budget``)."""
    database = MemoryDatabase(partition_count=PARTITION_COUNT)
    backend = Backend(
        "memory",
        InMemoryChunkRepository(database),
        InMemoryCollectionRepository(database),
        InMemoryPartitionStatistics(database),
    )
    container = memory_container(database, thresholds=Thresholds(max_partition_bytes=10**9))

    async def scrape() -> str:
        await load_giant(backend)
        start = utc_now() - timedelta(days=2)
        for i in range(9):
            rows = {p: 1000 + (250 * i if p == 13 else 0) for p in range(PARTITION_COUNT)}
            snapshots = [PartitionSnapshot(p, r, r * 100) for p, r in rows.items()]
            await container.partition_history().record(snapshots, start + timedelta(hours=6) * i)
        app = FastAPI()
        app.mount("/metrics", make_metrics_app(container))
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://host") as client:
            return (await client.get("/metrics/")).text

    import asyncio

    text = asyncio.run(scrape())
    families = list(text_string_to_metric_families(text))
    # A counter's samples are named ``..._total``; a labelled one with no sample yet is served all the same.
    return {f.name for f in families} | {f"{f.name}_total" for f in families if f.type == "counter"}


@pytest.fixture(scope="module")
def served() -> set[str]:
    return served_metrics()


def test_the_exporter_serves_every_family_it_documents(served: set[str]) -> None:
    documented = set(
        re.findall(r"``(semantik_chunks_[a-z_]+)", (ROOT / "src/semantik_chunks/entrypoints/metrics.py").read_text())
    )
    assert documented <= served
    assert {"semantik_chunks_verdict", "semantik_chunks_alerts", "semantik_chunks_chance_skew"} <= served


@pytest.mark.parametrize(("where", "expression"), dashboard_expressions() + rule_expressions())
def test_every_expression_parses_and_names_served_metrics(where: str, expression: str, served: set[str]) -> None:
    tree = promql_parser.parse(expression)
    names = set(metric_names(tree))
    assert names, f"{where}: {expression} selects no metric"
    assert names <= served, f"{where}: {sorted(names - served)} not served by the exporter"


def test_the_dashboard_shows_verdict_shares_collections_growth_and_forecast() -> None:
    titles = {p["title"] for p in json.loads(DASHBOARD.read_text())["panels"]}
    for wanted in ("Verdict", "Share of chunks per partition", "Top collections", "Growth", "Forecast"):
        assert any(title.startswith(wanted) for title in titles), wanted


def slug(heading: str) -> str:
    """GitHub's anchor of a markdown heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_every_rule_has_a_severity_a_summary_and_a_runbook_into_operations_md() -> None:
    anchors = {slug(line.lstrip("#")) for line in OPERATIONS.read_text().splitlines() if line.startswith("#")}
    rules = [r for group in yaml.safe_load(RULES.read_text())["groups"] for r in group["rules"]]
    assert {r["alert"] for r in rules} >= {
        "SemantikChunksUnbalanced",
        "SemantikChunksWarning",
        "SemantikChunksForecast",
        "SemantikChunksAlertsNotDelivered",
        "SemantikChunksStatementsReadEveryPartition",
    }
    for rule in rules:
        assert rule["labels"]["severity"] in ("critical", "warning"), rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
        path, _, anchor = rule["annotations"]["runbook_url"].partition("#")
        assert (path, anchor in anchors) == ("docs/operations.md", True), rule["alert"]


@attrs.frozen
class ScrapeConfig:
    metrics_path: str
    scheme: str


def documented_scrape_config() -> ScrapeConfig:
    [block] = re.findall(r"```yaml\n(scrape_configs:.*?)```", INTEGRATION.read_text(), re.DOTALL)
    [job] = yaml.safe_load(block)["scrape_configs"]
    return ScrapeConfig(job.get("metrics_path", "/metrics"), job.get("scheme", "http"))


async def test_the_documented_scrape_config_gets_metrics_without_a_redirect() -> None:
    config = documented_scrape_config()
    app = FastAPI()
    app.mount("/metrics", make_metrics_app(memory_container(MemoryDatabase(partition_count=PARTITION_COUNT))))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=f"{config.scheme}://app:8000") as client:
        response = await client.get(config.metrics_path, follow_redirects=False)
        bare = await client.get("/metrics", follow_redirects=False)
    assert response.status_code == 200
    assert "semantik_chunks_up 1.0" in response.text
    assert bare.status_code == 307  # why the config names /metrics/: a mount redirects the bare path
