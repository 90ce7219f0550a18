"""The Closed Won intake at volume, on the time-skipping test server: it pages by
``(LastModifiedDate, Id)``, so however many deals share one second each is handed off once,
a deal edited while it pages is not lost, a hand-off that keeps failing holds the watermark
before it, and a watermark saved before (a second and the ids read in it) is still honoured.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.orm import Session

import activities.handoff
from dealcycle.db.engine import make_engine
from dealcycle.db.models import IntakeWatermark
from dealcycle.fakes import SalesforceFake
from dealcycle.intake_settings import IntakeSettings
from dealcycle.settings import Settings, SettingsError
from schemas.account import DEAL_CLOSED_SIGNAL, AccountHandOff, account_workflow_id
from schemas.intake import CLOSED_WON_WATERMARK, IntakeResult, IntakeRun
from starter.intake import render_intake_result
from workflows.intake import ClosedWonIntakeWorkflow

ONE_SECOND = "2026-01-15T10:00:00.000+0000"


def seed_deals(fake: SalesforceFake, deals: int, accounts: int, prefix: str) -> list[str]:
    """``deals`` Closed Won opportunities over ``accounts`` accounts, all modified in one
    second; their ids in Salesforce's order (``(LastModifiedDate, Id)``). Each test has its own
    ``prefix``: the test server keeps the accounts of earlier tests."""
    for number in range(accounts):
        fake.add_record("Account", {"Id": f"001{prefix}{number:04d}", "Name": f"Co {number}"})
    ids = []
    for number in range(deals):
        opportunity_id = f"006{prefix}{number:05d}"
        fake.add_record(
            "Opportunity",
            {
                "Id": opportunity_id,
                "AccountId": f"001{prefix}{number % accounts:04d}",
                "StageName": "Closed Won",
                "CloseDate": "2026-01-15",
                "LastModifiedDate": ONE_SECOND,
            },
        )
        ids.append(opportunity_id)
    return sorted(ids)


async def run_intake(harness: Any, name: str, **run: Any) -> IntakeResult:
    """One run, as the schedule starts it, in real time (an idle account's only timer is the
    test server's ten-year run timeout, which time skipping would reach)."""
    with harness.env.auto_time_skipping_disabled():
        handle = await harness.client.start_workflow(
            ClosedWonIntakeWorkflow.run,
            IntakeRun(first_poll_lookback_days=36500, **run),
            id=f"intake-{name}",
            task_queue=harness.task_queue,
        )
        harness.track(handle)
        result: IntakeResult = await handle.result()
        return result


async def hand_offs_received(harness: Any, accounts: int, prefix: str) -> Counter[str]:
    """Each deal, by how many hand-offs (``deal_closed`` signals) its account's workflow got,
    counted from the accounts' histories; and every account has one run."""
    received: Counter[str] = Counter()
    for number in range(accounts):
        handle = harness.client.get_workflow_handle(account_workflow_id(f"001{prefix}{number:04d}"))
        harness.track(handle)
        history = await handle.fetch_history()
        starts = [
            e for e in history.events if e.HasField("workflow_execution_started_event_attributes")
        ]
        assert len(starts) == 1
        for event in history.events:
            if not event.HasField("workflow_execution_signaled_event_attributes"):
                continue
            signal = event.workflow_execution_signaled_event_attributes
            assert signal.signal_name == DEAL_CLOSED_SIGNAL
            [deal] = await harness.client.data_converter.decode(
                signal.input.payloads, [AccountHandOff]
            )
            received[deal.opportunity_id] += 1
    return received


def after_the_first_query(
    fake: SalesforceFake, monkeypatch: pytest.MonkeyPatch, then: Callable[[], None]
) -> None:
    """``then()`` runs in Salesforce once the first SOQL query is answered."""
    answer_query = fake._query
    queries = 0

    def query_then(soql: str, version: str) -> Any:
        nonlocal queries
        response = answer_query(soql, version)
        queries += 1
        if queries == 1:
            then()
        return response

    monkeypatch.setattr(fake, "_query", query_then)


def salesforce_data_calls(fake: SalesforceFake) -> list[str]:
    return [call.path for call in fake.calls_to(r"^/services/data/")]


async def test_a_thousand_deals_in_one_second_are_each_handed_off_once(
    harness_factory: Any, salesforce_fake: SalesforceFake
) -> None:
    ids = seed_deals(salesforce_fake, 1000, 25, "T")
    async with harness_factory() as harness:
        result = await run_intake(harness, "thousand")
        assert (result.handed_off_count, result.failed, result.skipped) == (1000, [], [])
        # Five full pages of 200 and an empty one: one SOQL query a page, no read per deal.
        queries = salesforce_data_calls(salesforce_fake)
        assert len(queries) == result.pages == 6
        assert all(path.rstrip("/").endswith("/query") for path in queries), queries

        received = await hand_offs_received(harness, 25, "T")
        assert sorted(received) == ids
        assert set(received.values()) == {1}

        again = await run_intake(harness, "thousand-again")
        assert (again.handed_off_count, again.pages) == (0, 1)
        assert sum((await hand_offs_received(harness, 25, "T")).values()) == 1000


async def test_three_hundred_in_one_second_go_over_runs_of_one_page(
    harness_factory: Any, salesforce_fake: SalesforceFake
) -> None:
    """The old intake handed off 200, then 0 for ever (a second and its ids as watermark)."""
    ids = seed_deals(salesforce_fake, 300, 10, "H")
    async with harness_factory() as harness:
        # One page a run: the run continues as new from its watermark, (second, 200th id).
        await run_intake(harness, "300", max_pages=1)
        received = await hand_offs_received(harness, 10, "H")
        assert sorted(received) == ids and set(received.values()) == {1}
        again = await run_intake(harness, "300-again", max_pages=1)
        assert again.handed_off_count == 0


async def test_a_deal_edited_while_the_intake_pages_is_not_lost(
    harness_factory: Any, salesforce_fake: SalesforceFake, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = seed_deals(salesforce_fake, 45, 5, "E")
    read_already, not_read_yet = ids[3], ids[40]

    def edit() -> None:
        # Someone edits both deals in Salesforce after the first page was read: their
        # LastModifiedDate becomes now, after every other deal.
        for record_id in (read_already, not_read_yet):
            record = salesforce_fake._records["Opportunity"][record_id]
            salesforce_fake._update("Opportunity", record, {"Amount": 99})

    after_the_first_query(salesforce_fake, monkeypatch, edit)
    async with harness_factory() as harness:
        result = await run_intake(harness, "edited", batch_size=10)
        assert result.failed == []
        received = await hand_offs_received(harness, 5, "E")
        assert sorted(received) == ids
        # Read again after its edit (the account keeps one hand-off per deal); the other once.
        assert received[read_already] == 2
        assert {deal: n for deal, n in received.items() if deal != read_already} == {
            deal: 1 for deal in ids if deal != read_already
        }
        again = await run_intake(harness, "edited-again", batch_size=10)
        assert again.handed_off_count == 0


async def test_a_failing_hand_off_is_reported_and_holds_the_watermark_before_it(
    harness_factory: Any, salesforce_fake: SalesforceFake, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = seed_deals(salesforce_fake, 12, 3, "F")
    stuck = ids[2]
    real_hand_off = activities.handoff.hand_off
    failing = True

    async def hand_off(client: Any, task_queue: str, request: Any, config: Any) -> Any:
        if failing and request.hand_off.opportunity_id == stuck:
            raise RuntimeError("frontend unavailable")
        return await real_hand_off(client, task_queue, request, config)

    monkeypatch.setattr(activities.handoff, "hand_off", hand_off)
    monkeypatch.setattr(activities.handoff, "RETRY_DELAY_SECONDS", 0.0)
    async with harness_factory() as harness:
        first = await run_intake(harness, "failing", batch_size=5)
        assert [(f.opportunity_id, f.why) for f in first.failed] == [
            (stuck, "RuntimeError: frontend unavailable")
        ]
        assert (
            f"  {stuck}  NOT handed off (the next run tries again): RuntimeError: frontend"
            " unavailable"
        ) in render_intake_result(first)
        # The run stops at that page; the deals after the stuck one in it were handed off.
        assert (first.handed_off, first.pages) == ([ids[0], ids[1], ids[3], ids[4]], 1)

        failing = False
        second = await run_intake(harness, "recovered", batch_size=5)
        assert second.failed == []
        received = await hand_offs_received(harness, 3, "F")
        assert sorted(received) == ids
        assert received[stuck] == 1
        # Read again from the watermark before the stuck deal: what followed it, again.
        assert {deal for deal, n in received.items() if n == 2} == {ids[3], ids[4]}


async def test_a_watermark_saved_before_paging_by_id_is_honoured(
    harness_factory: Any, salesforce_fake: SalesforceFake
) -> None:
    """A row of the old intake: the second it reached and the deals of it already read. The
    new intake reads that second again and hands off only the others."""
    ids = seed_deals(salesforce_fake, 30, 3, "L")
    async with harness_factory() as harness:
        engine = make_engine(harness.settings.database_url)
        with Session(engine) as session:
            session.add(
                IntakeWatermark(
                    name=CLOSED_WON_WATERMARK,
                    value=datetime(2026, 1, 15, 10, 0, 0, tzinfo=UTC),
                    seen_ids=ids[:20],
                    updated_at=datetime.now(UTC),
                )
            )
            session.commit()
        result = await run_intake(harness, "legacy", batch_size=10)
        assert sorted(result.handed_off) == ids[20:]
        with Session(engine) as session:
            row = session.get(IntakeWatermark, CLOSED_WON_WATERMARK)
            assert row is not None and (row.last_id, row.seen_ids) == (ids[-1], [])
        engine.dispose()
        received = await hand_offs_received(harness, 3, "L")
        assert sorted(received) == ids[20:]


async def test_a_deal_saved_later_in_the_watermarks_second_with_a_smaller_id_is_not_stranded(
    harness_factory: Any, salesforce_fake: SalesforceFake
) -> None:
    """The second the intake reached may still be written: the watermark of a second that
    recent is its start and the deals read in it, not the last Id."""
    salesforce_fake.add_record("Account", {"Id": "001R", "Name": "Recent"})
    salesforce_fake.add_record(
        "Opportunity", {"Id": "006R5", "AccountId": "001R", "StageName": "Closed Won"}
    )
    async with harness_factory() as harness:
        first = await run_intake(harness, "recent-1")
        assert first.handed_off == ["006R5"]
        # An older deal edited in that same second, committed after the poll read it.
        moment = salesforce_fake.get_record("Opportunity", "006R5")["LastModifiedDate"]  # type: ignore[index]
        salesforce_fake.add_record(
            "Opportunity",
            {
                "Id": "006R1",
                "AccountId": "001R",
                "StageName": "Closed Won",
                "LastModifiedDate": moment,
            },
        )
        second = await run_intake(harness, "recent-2")
        assert second.handed_off == ["006R1"]
        third = await run_intake(harness, "recent-3")
        assert third.handed_off == []


async def test_deal_closed_reads_salesforce_once_with_the_workers_session(
    harness_factory: Any, salesforce_fake: SalesforceFake
) -> None:
    """``dealcycle deal-closed``: one SOQL query per deal, sent by the worker on the session it
    already holds; the CLI logs in to nothing."""
    from tests.test_intake import close_deal

    seed_deals(salesforce_fake, 3, 2, "C")
    async with harness_factory() as harness:
        for opportunity_id in ("006C00000", "006C00001", "006C00000", "006C00002"):
            message = await close_deal(harness, opportunity_id)
            assert opportunity_id in message
        assert len(salesforce_data_calls(salesforce_fake)) == 4
        assert len(salesforce_fake.calls_to(r"^/services/oauth2/token")) == 1
        received = await hand_offs_received(harness, 2, "C")
        assert received == Counter({"006C00000": 2, "006C00001": 1, "006C00002": 1})


async def test_a_page_is_handed_off_a_bounded_number_at_once(
    harness_factory: Any, salesforce_fake: SalesforceFake, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = seed_deals(salesforce_fake, 40, 4, "B")
    real_hand_off = activities.handoff.hand_off
    in_flight, most = 0, 0

    async def hand_off(client: Any, task_queue: str, request: Any, config: Any) -> Any:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        try:
            await asyncio.sleep(0.02)  # long enough for the others of the page to start
            return await real_hand_off(client, task_queue, request, config)
        finally:
            in_flight -= 1

    monkeypatch.setattr(activities.handoff, "hand_off", hand_off)
    async with harness_factory(intake=IntakeSettings(concurrency=4)) as harness:
        result = await run_intake(harness, "bounded", batch_size=20)
        assert result.handed_off_count == 40
        assert most == 4
        assert sorted(await hand_offs_received(harness, 4, "B")) == ids


@pytest.mark.parametrize(
    ("raw", "problem"),
    [("0", "must be from 1 to 256"), ("300", "must be from 1 to 256"), ("x", "not a whole")],
)
def test_the_intake_concurrency_setting_is_checked(raw: str, problem: str) -> None:
    assert IntakeSettings.from_env({}).concurrency == 16
    assert IntakeSettings.from_env({"DEALCYCLE_INTAKE_CONCURRENCY": "32"}).concurrency == 32
    with pytest.raises(SettingsError, match=f"DEALCYCLE_INTAKE_CONCURRENCY.*{problem}"):
        Settings.from_env({"DEALCYCLE_INTAKE_CONCURRENCY": raw})


async def test_a_deal_refused_for_its_data_strands_no_deal_after_it(
    harness_factory: Any, salesforce_fake: SalesforceFake
) -> None:
    """A CloseDate typed 2062 is refused until someone fixes it in Salesforce, and that fix
    gives it a new LastModifiedDate: the watermark need not stay before it. Held there, every
    run read the same first page again and the deals past it were never handed off."""
    ids = seed_deals(salesforce_fake, 12, 3, "Z")
    bad = ids[1]
    salesforce_fake._records["Opportunity"][bad]["CloseDate"] = "2062-12-01"
    async with harness_factory() as harness:
        first = await run_intake(harness, "refused-1", batch_size=5)
        assert (first.failed, first.skipped, first.handed_off_count) == ([], [bad], 11)
        [refused] = [d for d in first.decisions if d.opportunity_id == bad]
        assert refused.decision == "refused" and "closed_at" in refused.why
        assert f"  {bad}  refused ({account_workflow_id('001Z0001')}): Salesforce's" in (
            render_intake_result(first)
        )
        second = await run_intake(harness, "refused-2", batch_size=5)
        assert (second.failed, second.skipped, second.handed_off_count) == ([], [], 0)
        received = await hand_offs_received(harness, 3, "Z")
        assert sorted(received) == [deal for deal in ids if deal != bad]
        assert set(received.values()) == {1}
        # Fixed in Salesforce: read again, and handed off.
        salesforce_fake._update(
            "Opportunity", salesforce_fake._records["Opportunity"][bad], {"CloseDate": "2026-01-15"}
        )
        third = await run_intake(harness, "refused-3", batch_size=5)
        assert third.handed_off == [bad]


async def test_a_second_still_written_when_its_first_page_was_read_is_read_again(
    harness_factory: Any, salesforce_fake: SalesforceFake, monkeypatch: pytest.MonkeyPatch
) -> None:
    """More deals in the second just written than a page holds: a deal committed in that
    second after its first page was read, with a smaller Id, is behind the next page's start.
    The next page is read once the second is over, but the second was open when the run
    first read it: the watermark is its start and the deals read in it, so the next run finds
    the late one."""
    moment = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")
    salesforce_fake.add_record("Account", {"Id": "001LATE", "Name": "Late"})
    ids = []
    for number in range(7):
        ids.append(f"006LT{number:05d}")
        salesforce_fake.add_record(
            "Opportunity",
            {
                "Id": ids[-1],
                "AccountId": "001LATE",
                "StageName": "Closed Won",
                "CloseDate": "2026-01-15",
                "LastModifiedDate": moment,
            },
        )

    def commit_late() -> None:
        salesforce_fake.add_record(
            "Opportunity",
            {
                "Id": "006LA",
                "AccountId": "001LATE",
                "StageName": "Closed Won",
                "CloseDate": "2026-01-15",
                "LastModifiedDate": moment,
            },
        )
        time.sleep(2.5)  # the next page is read once that second is well over

    after_the_first_query(salesforce_fake, monkeypatch, commit_late)
    async with harness_factory() as harness:
        first = await run_intake(harness, "late-1", batch_size=5)
        assert sorted(first.handed_off) == ids
        second = await run_intake(harness, "late-2", batch_size=5)
        assert second.handed_off == ["006LA"]
        third = await run_intake(harness, "late-3", batch_size=5)
        assert third.handed_off == []
