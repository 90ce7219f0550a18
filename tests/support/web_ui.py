"""Reading what the Temporal Web UI shows of a workflow, as the UI reads it: the user metadata
of its history's events (activity and timer summaries), its description (static summary and
details) and its ``__temporal_workflow_metadata`` query (current details).

Every payload goes through the client's data converter, codec included, so these helpers read
the same text whether histories are encrypted or not.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.client import Client, WorkflowHandle

from dealcycle.devtools.devserver import DevServerInfo, free_port, running_dev_server
from schemas.search_attributes import registrations
from tests.support.codec import running_codec_server
from tests.support.dev_temporal import on_free_ports

METADATA_QUERY = "__temporal_workflow_metadata"


@dataclass(frozen=True)
class Summarised:
    event_type: str
    """``ACTIVITY_TASK_SCHEDULED``, ``TIMER_STARTED``, ``START_CHILD_WORKFLOW_…``."""
    summary: str


async def _decoded(client: Client, event: HistoryEvent) -> str:
    [text] = await client.data_converter.decode([event.user_metadata.summary], [str])
    assert isinstance(text, str)
    return text


async def event_summaries(client: Client, handle: WorkflowHandle[Any, Any]) -> list[Summarised]:
    """Every event of the handle's run that carries a summary, decoded, in order."""
    found = []
    async for event in handle.fetch_history_events():
        if event.HasField("user_metadata") and event.user_metadata.HasField("summary"):
            name = EventType.Name(event.event_type).removeprefix("EVENT_TYPE_")
            found.append(Summarised(name, await _decoded(client, event)))
    return found


def of_type(found: list[Summarised], event_type: str) -> list[str]:
    return [item.summary for item in found if item.event_type == event_type]


async def current_details(handle: WorkflowHandle[Any, Any]) -> str:
    """What the Web UI shows as "Current details" (it asks the same query)."""
    metadata: WorkflowMetadata = await handle.query(METADATA_QUERY, result_type=WorkflowMetadata)
    return metadata.current_details


@contextlib.asynccontextmanager
async def dev_server_with_ui(state_dir: Path) -> AsyncIterator[DevServerInfo]:
    """The Temporal dev server with its Web UI on a free port (``info.ui_url``), dealcycle's
    search attributes registered. The one place the browser tests start it. Payloads are
    encrypted in the tests: the UI decodes them, in the browser, through a codec server with the
    suite's key that answers the UI's origin (``--ui-codec-endpoint``)."""
    async with contextlib.AsyncExitStack() as stack:
        yield await on_free_ports(stack, lambda: _dev_server_with_ui(state_dir))


@contextlib.asynccontextmanager
async def _dev_server_with_ui(state_dir: Path) -> AsyncIterator[DevServerInfo]:
    # The codec server answers the UI's origin: both start again when a port was taken.
    ui_port = free_port()
    origin = f"http://127.0.0.1:{ui_port}"
    async with (
        running_codec_server(cors_origins=[origin]) as codec_endpoint,
        running_dev_server(
            state_dir=state_dir,
            port=free_port(),
            ui_port=ui_port,
            search_attributes=registrations(),
            log_file=state_dir / "temporal.log",
            ui_codec_endpoint=codec_endpoint,
        ) as server,
    ):
        assert server.ui_url == origin
        yield server
