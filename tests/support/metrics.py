"""Reading a Prometheus endpoint as a scraper does: over HTTP, the text exposition format."""

from __future__ import annotations

import json
import re
import urllib.request
from dataclasses import dataclass
from pathlib import Path

_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True)
class Sample:
    name: str
    labels: dict[str, str]
    value: float


def scrape(port: int, host: str = "127.0.0.1") -> list[Sample]:
    with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=10) as response:
        assert response.status == 200
        text = response.read().decode("utf-8")
    return parse(text)


def parse(text: str) -> list[Sample]:
    samples = []
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        match = _SAMPLE.match(line.strip())
        assert match is not None, f"not a Prometheus sample: {line!r}"
        name, raw_labels, value = match.groups()
        labels = dict(_LABEL.findall(raw_labels or ""))
        samples.append(Sample(name, labels, float(value)))
    return samples


def value_of(samples: list[Sample], name: str, **labels: str) -> float | None:
    """The sum of ``name``'s samples carrying ``labels`` (others may differ); None if none."""
    matching = [
        s.value
        for s in samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    ]
    return sum(matching) if matching else None


def names(samples: list[Sample]) -> set[str]:
    return {sample.name for sample in samples}


DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "dealcycle.json"
_SERIES = re.compile(r"\b((?:temporal|dealcycle)_[a-z0-9_]+)")


def dashboard_queries() -> dict[str, list[str]]:
    """Each panel's title and the PromQL expressions it draws."""
    dashboard = json.loads(DASHBOARD.read_text())
    return {
        panel["title"]: [target["expr"] for target in panel.get("targets", [])]
        for panel in dashboard["panels"]
        if panel.get("type") != "row"
    }


def dashboard_series(prefix: str) -> set[str]:
    """Every series name the dashboard queries that starts with ``prefix``."""
    exprs = [expr for panel in dashboard_queries().values() for expr in panel]
    variables = json.loads(DASHBOARD.read_text())["templating"]["list"]
    exprs += [variable["definition"] for variable in variables if variable.get("definition")]
    return {name for expr in exprs for name in _SERIES.findall(expr) if name.startswith(prefix)}
