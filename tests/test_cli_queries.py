"""A workflow that cannot answer a query is explained as soon as Temporal's records say why,
not once the query has timed out (``starter.queries``), on the real dev server."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import pytest
from temporalio.client import Client

from starter import queries
from starter.errors import CommandError
from tests.support.dev_temporal import dev_client
from workflows.trial import TrialWorkflow

__all__ = ["dev_client"]  # the dev-server fixture, shared


async def test_a_workflow_no_worker_polls_for_is_explained_before_its_query_times_out(
    dev_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    nobody = f"nobody-polls-{uuid.uuid4()}"
    handle = await dev_client.start_workflow(
        "TrialWorkflow", id=f"trial-IDLE-{uuid.uuid4()}", task_queue=nobody
    )
    # The explanation must come while the query is still unanswered: it is cancelled, not
    # timed out (by us, or by the server's own deadline for a query nobody takes).
    monkeypatch.setattr(queries, "QUERY_TIMEOUT", timedelta(hours=1))
    ends: list[str] = []
    ask = handle.query

    async def watched(*args: Any, **kwargs: Any) -> Any:
        try:
            return await ask(*args, **kwargs)
        except asyncio.CancelledError:
            ends.append("cancelled")
            raise
        except BaseException as err:
            ends.append(type(err).__name__)
            raise

    monkeypatch.setattr(handle, "query", watched)
    with pytest.raises(CommandError) as refused:
        await asyncio.wait_for(
            queries.query_workflow(dev_client, handle, TrialWorkflow.state), timeout=120
        )
    assert ends == ["cancelled"]
    assert str(refused.value).startswith(f"{handle.id} is not answering: no worker polls")
    assert repr(nobody) in str(refused.value)
    await handle.terminate()
