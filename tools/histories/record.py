"""Every group of scenarios, and the run that records them all."""

from __future__ import annotations

import time
import traceback
from pathlib import Path

import workflows
from tools.histories import accounts, presales
from tools.histories.stack import Scenario, recording

GROUPS: dict[str, Scenario] = {
    "trial": presales.trials,
    "security-review": presales.security_reviews,
    "opportunity": presales.opportunities,
    "account": accounts.accounts,
    "red-account": accounts.red_accounts,
    "red-plan-repeat": accounts.red_plan_repeated,
    "red-no-thread": accounts.red_case_without_thread,
    "red-post-retried": accounts.red_post_retried,
    "intake": accounts.intake,
    "region": accounts.region_later,
    "owners": accounts.owners_from_a_repeat,
    "case-owners": accounts.case_before_owners,
    "kickoff-due": accounts.kickoff_after_late_owners,
    "snooze-move": accounts.snoozed_work_moved_closer,
    "red-renewed": accounts.renewed_with_a_red_case_open,
    "churned-reading": accounts.churned_then_read_low,
    "tier-onboarding": accounts.tier_change_while_onboarding,
    "leader-reassign": accounts.leader_reassigns,
    "opportunity-lookup": accounts.opportunity_lookups,
}
"""Each group runs on its own test server (a fresh clock), fakes and database."""


async def record(out: Path, only: list[str] | None = None) -> list[str]:
    """Record the groups (all, or ``only``) into the directory ``out``; the names of the
    groups that failed.

    A group that fails (say, on an old checkout whose contracts differ) is reported, and the
    others still run: what they saved is kept.
    """
    code = Path(workflows.__path__[0]).parent
    print(f"recording the workflows of {code} into {out}", flush=True)
    failed = []
    for name, scenario in GROUPS.items():
        if only and name not in only:
            continue
        began = time.monotonic()
        print(f"{name}:", flush=True)
        try:
            async with recording(out, name) as recorder:
                await scenario(recorder)
        except Exception:
            traceback.print_exc()
            failed.append(name)
        print(f"  ({time.monotonic() - began:.0f} s)", flush=True)
    return failed
