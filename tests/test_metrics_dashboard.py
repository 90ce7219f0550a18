"""The Grafana dashboard and the README draw from the one list of our series
(``schemas.metrics``); the SDK's series the dashboard draws are checked against a scrape in
tests/test_metrics.py."""

from __future__ import annotations

from pathlib import Path

from dealcycle.metrics import ALL_METRICS
from tests.support.metrics import dashboard_queries, dashboard_series

README = Path(__file__).resolve().parents[1] / "README.md"


def test_the_dashboard_queries_only_our_series_and_draws_each() -> None:
    ours = {metric.name for metric in ALL_METRICS}
    assert dashboard_series("dealcycle_") == ours


def test_every_dashboard_panel_queries_something() -> None:
    queries = dashboard_queries()
    assert queries and all(exprs for exprs in queries.values()), queries


def test_the_readme_names_every_series_and_the_dashboard() -> None:
    text = README.read_text()
    section = text[text.index("## Metrics") :]
    section = section[: section.index("\n## ", 1)]
    rows = [f"| `{metric.name}` | {metric.kind.value} | {', '.join(metric.labels)} |"
            for metric in ALL_METRICS]  # fmt: skip
    assert [row for row in rows if row not in section] == []
    assert "deploy/grafana/dealcycle.json" in section
    assert "DEALCYCLE_METRICS_PORT" in section and "curl" in section
