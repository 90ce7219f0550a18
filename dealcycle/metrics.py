"""Metrics on a Prometheus endpoint: the SDK's own and ours, through one Temporal runtime.

With ``DEALCYCLE_METRICS_PORT`` set, the worker creates one ``temporalio.runtime.Runtime``
whose telemetry serves ``http://DEALCYCLE_METRICS_HOST:PORT/metrics`` and makes it the
process's default before the first client connects, so every client and worker of the process
(whoever builds them) reports through it. Our series (the one list: ``schemas.metrics``) go
through the same meter:

- workflow code counts transitions (``workflows.metrics.count``; not recorded during replay);
- the activities' client layer counts Slack and Salesforce calls and hand-offs
  (``count_in_activity``, labelled by the calling workflow's type);
- ``VisibilityLevels`` sets the levels (steps overdue, workflows needing attention, red cases
  open) from the visibility store every ``DEALCYCLE_METRICS_INTERVAL``: the search attributes
  every workflow keeps current are the truth for "how many now", whichever worker runs them.
  Every worker's collector sets the same values; aggregate them with ``max``, not ``sum``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass

import structlog
from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.common import MetricMeter
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from schemas import search_attributes as sa
from schemas.health import RED_ACCOUNT_WORKFLOW_TYPE
from schemas.metrics import (
    BUSINESS_METRICS,
    RED_CASES_OPEN,
    STEPS_OVERDUE,
    WORKFLOWS_NEEDING_ATTENTION,
    MetricDefinition,
    MetricKind,
    MetricSource,
)

log = structlog.get_logger(__name__)

ALL_METRICS: tuple[MetricDefinition, ...] = BUSINESS_METRICS
"""Every business series we export (the SDK's are its own: ``temporal_*``)."""

DEFAULT_HOST = "127.0.0.1"
DEFAULT_INTERVAL_SECONDS = 60

OVERDUE_QUERY = f"ExecutionStatus = 'Running' AND {sa.OVERDUE_STEPS.name} > 0"
ATTENTION_QUERY = f"ExecutionStatus = 'Running' AND {sa.NEEDS_ATTENTION.name} = true"
RED_CASES_QUERY = f"ExecutionStatus = 'Running' AND WorkflowType = '{RED_ACCOUNT_WORKFLOW_TYPE}'"


@dataclass(frozen=True)
class MetricsSettings:
    port: int | None = None
    """None: no endpoint, no collector."""
    host: str = DEFAULT_HOST
    interval_seconds: int = DEFAULT_INTERVAL_SECONDS
    """How often the levels are read from the visibility store."""

    @property
    def bind_address(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> MetricsSettings:
        # Imported here: dealcycle.settings imports this module for its one field.
        from dealcycle.settings import SettingsError, parse_duration

        raw_port = (env.get("DEALCYCLE_METRICS_PORT") or "").strip()
        port: int | None = None
        if raw_port:
            if not raw_port.isdigit() or not 1 <= int(raw_port) <= 65535:
                raise SettingsError(
                    f"DEALCYCLE_METRICS_PORT={raw_port!r} is not a TCP port (1 to 65535)"
                )
            port = int(raw_port)
        raw_interval = env.get("DEALCYCLE_METRICS_INTERVAL") or ""
        return cls(
            port=port,
            host=(env.get("DEALCYCLE_METRICS_HOST") or DEFAULT_HOST).strip(),
            interval_seconds=(
                parse_duration("DEALCYCLE_METRICS_INTERVAL", raw_interval)
                if raw_interval
                else DEFAULT_INTERVAL_SECONDS
            ),
        )


def prometheus_runtime(settings: MetricsSettings) -> Runtime:
    """A runtime serving the SDK's metrics and ours on ``settings.bind_address``."""
    from dealcycle.settings import SettingsError

    try:
        return Runtime(
            telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=settings.bind_address))
        )
    except Exception as err:  # the core reports a port in use as a plain error
        raise SettingsError(
            f"cannot serve metrics on {settings.bind_address} (DEALCYCLE_METRICS_HOST,"
            f" DEALCYCLE_METRICS_PORT): {err}"
        ) from None


class MetricsExport:
    """The worker's metrics: its runtime and the levels collector (nothing without a port)."""

    def __init__(self, settings: MetricsSettings, runtime: Runtime | None) -> None:
        self.settings = settings
        self.runtime = runtime

    @classmethod
    def start(cls, settings: MetricsSettings) -> MetricsExport:
        """Serve the endpoint (when a port is set) through the process's default runtime;
        call it before the first client connects."""
        if settings.port is None:
            return cls(settings, None)
        runtime = prometheus_runtime(settings)
        # Clients made before (none, for `dealcycle worker`) keep theirs.
        Runtime.set_default(runtime, error_if_already_set=False)
        log.info("metrics served", url=f"http://{settings.bind_address}/metrics")
        return cls(settings, runtime)

    @contextlib.asynccontextmanager
    async def levels(self, client: Client, workflows: Iterable[type]) -> AsyncIterator[None]:
        """Within the block, keep the level gauges current (with no endpoint, do nothing);
        ``workflows`` (the worker's) start at zero."""
        if self.runtime is None:
            yield
            return
        definitions = [workflow._Definition.must_from_class(defn) for defn in workflows]
        types = [definition.name for definition in definitions if definition.name]
        collector = VisibilityLevels(client, self.runtime.metric_meter, types)
        task = asyncio.create_task(collector.run_every(self.settings.interval_seconds))
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


class VisibilityLevels:
    """Sets the level gauges from the visibility store, one reading per workflow type.

    Three listings a reading, each of running workflows with something to count (overdue
    steps, a failed effect) or of open red cases only, so the cost follows the trouble, not
    the number of accounts. A type that had a value and has none now is set to zero.
    """

    def __init__(
        self, client: Client, meter: MetricMeter, workflow_types: Iterable[str] = ()
    ) -> None:
        self._client = client
        self._gauges = {
            metric.name: meter.create_gauge(metric.name, metric.description)
            for metric in (STEPS_OVERDUE, WORKFLOWS_NEEDING_ATTENTION, RED_CASES_OPEN)
        }
        self._known: dict[str, set[str]] = {name: set(workflow_types) for name in self._gauges}
        self._known[RED_CASES_OPEN.name] = {RED_ACCOUNT_WORKFLOW_TYPE}

    async def collect(self) -> None:
        overdue: Counter[str] = Counter()
        async for execution in self._client.list_workflows(OVERDUE_QUERY):
            steps = execution.typed_search_attributes.get(sa.OVERDUE_STEPS) or 0
            overdue[execution.workflow_type] += steps
        attention: Counter[str] = Counter()
        async for execution in self._client.list_workflows(ATTENTION_QUERY):
            attention[execution.workflow_type] += 1
        red = await self._client.count_workflows(RED_CASES_QUERY)
        self._set(STEPS_OVERDUE, overdue)
        self._set(WORKFLOWS_NEEDING_ATTENTION, attention)
        self._set(RED_CASES_OPEN, Counter({RED_ACCOUNT_WORKFLOW_TYPE: red.count}))

    async def run_every(self, interval_seconds: float) -> None:
        while True:
            try:
                await self.collect()
            except Exception as err:  # a visibility outage must not stop the worker
                log.warning("metrics levels not read", error=str(err)[:300])
            await asyncio.sleep(interval_seconds)

    def _set(self, metric: MetricDefinition, values: Counter[str]) -> None:
        known = self._known[metric.name]
        known.update(values)
        for workflow_type in sorted(known):
            self._gauges[metric.name].set(values[workflow_type], {"workflow_type": workflow_type})


def count_in_activity(metric: MetricDefinition, **labels: str) -> None:
    """Add one to ``metric`` through the running activity's meter, labelled with the calling
    workflow's type. Outside an activity (the worker's start-up checks) nothing is counted."""
    assert metric.kind is MetricKind.COUNTER and metric.source is MetricSource.ACTIVITY
    if not activity.in_activity():
        return
    info = activity.info()
    counter = activity.metric_meter().create_counter(metric.name, metric.description)
    counter.add(1, {"workflow_type": info.workflow_type or "", **labels})
