"""Everything an account owes the outside world, written by the account workflow's main loop.

Compares what the state says is owed (a key, a Salesforce field, a reminder, a brief) with
what was done, and does the rest, each with an idempotency key derived from the account's
first run, so a retried activity or a replayed run never writes twice. Lives outside the
workflow module, passed through the sandbox, so a cached account workflow stays small.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributePair, SearchAttributeUpdate, TypedSearchAttributes
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.workflow import ParentClosePolicy

from schemas import search_attributes as sa
from schemas import start_summaries
from schemas.account import (
    AccountSnapshot,
    AccountStep,
    LicenseGrant,
    LifecycleStage,
    PlanSubmission,
    RenewalOutcome,
    StepKind,
)
from schemas.common import DeploymentType, Region, Role, StepStatus
from schemas.effects import (
    AccountPlanRecord,
    EffectKind,
    FeatureRequestRecord,
    LicenseRequest,
    SalesforceFieldUpdate,
    SalesforceTaskRequest,
    SlackPost,
)
from schemas.health import (
    CASE_SIGNAL,
    RED_ACCOUNT_WORKFLOW_TYPE,
    RedAccountCaseStart,
    RedAccountResult,
)
from schemas.opportunity import (
    OPPORTUNITY_WORKFLOW_TYPE,
    OpportunityInput,
    OpportunityKind,
    OpportunityResult,
    OpportunityStart,
    opportunity_workflow_id,
)
from schemas.roster import Roster
from workflows import effects, health_rules, step_prompts
from workflows.account_calendar import day_of_quarter
from workflows.account_change_effects import write_account_changes
from workflows.account_schedule import (
    advance,
    after_check_in_brief,
    check_in_brief_due,
    escalations_due,
    kickoff_due_from_owners,
    reminders_due,
    tier_change_pending_before_planning,
)
from workflows.account_steps import missing_profile
from workflows.mrkdwn import escape
from workflows.owed_work import OwedWork
from workflows.roster import RosterLookup
from workflows.slack_blocks import step_prompt_blocks, workflow_url
from workflows.todo_views import account_open_steps
from workflows.visibility import (
    publish_current_details,
    publish_open_steps,
    publish_search_attributes,
)

KICKOFF_ANNOUNCEMENT_PATCH = "announce-kickoff-in-account-channel"
CHURN_CLOSES_CASE_PATCH = "churn-closes-red-account-case"
TIER_BEFORE_PLANNING_PATCH = "tier-change-applies-before-planning"
"""Runs that started before: a tier change made before the account plans (kickoff,
onboarding) waits for the first plan's quarter, however late, not for its own."""
KICKOFF_DUE_FROM_OWNERS_PATCH = "kickoff-due-from-owners"
"""Runs that started before: the kickoff plan of an account whose owners came after its start
(a hand-off without them, then ``dealcycle account profile`` or the opportunity's hand-off) is
due counted from the start, overdue at once for a CE named too late."""

# The Slack app's form (starter/slack/modal_forms.ModalName) that records such a step.
_FORMS = {
    StepKind.KICKOFF_PLAN: "kickoff",
    StepKind.ACCOUNT_PLAN: "account_plan",
    StepKind.RENEWAL_ASSESSMENT: "assessment",
}

_HOW_TO_FINISH = {
    StepKind.KICKOFF_PLAN: "dealcycle account kickoff {account} --by {owner} --role CE"
    " --cadence weekly|bi-weekly|monthly|as-needed",
    StepKind.ACCOUNT_PLAN: "dealcycle account plan {account} --quarter {quarter}"
    " --file plan.json --by {owner} --role CE",
    StepKind.RENEWAL_ASSESSMENT: "dealcycle account assessment {account} --by {owner}"
    " --role {role} --risk '...'",
    StepKind.RENEWAL_OUTCOME: "dealcycle account renewal-outcome {account}"
    " renewed|seat_expansion|new_team|churned --by {owner} --role AE",
}
_DEFAULT_HOW = "dealcycle account step {account} {key} --by {owner} --role {role}"


def _overdue(step: AccountStep, now: datetime) -> bool:
    return step.due_at is not None and step.due_at < now


def _date(moment: datetime | None) -> str:
    return moment.date().isoformat() if moment else "-"


class AccountEffects:
    def __init__(self, s: AccountSnapshot, fx: OwedWork) -> None:
        self.s = s
        self.fx = fx
        self._published: dict[str, str] = {}
        self._published_typed: dict[str, object] = {}
        self._publishing: tuple[object, ...] | None = None
        self.roster = RosterLookup(self._last_known_roster, self._remember_roster)

    def _last_known_roster(self) -> Roster:
        return Roster.carried(self.s.config.roster, self.s.config.value_engineering)

    def _remember_roster(self, roster: Roster) -> None:
        self.s.config = replace(
            self.s.config, roster=roster.security(), value_engineering=roster.value_engineering
        )

    def _key(self, *parts: object) -> str:
        return "/".join([self.s.effect_scope, *(str(part) for part in parts)])

    def _step_key(self, step: AccountStep, *parts: object) -> str:
        # A step re-planned by a moved renewal date starts its reminders over.
        replan = ("replan", step.replanned) if step.replanned else ()
        return self._key("step", step.key, *replan, *parts)

    @property
    def _name(self) -> str:
        # Only ever shown in Slack: the name comes from Salesforce or the CLI as typed.
        return escape(f"{self.s.profile.account_name} ({self.s.profile.account_id})")

    async def catch_up(self) -> None:
        """Do everything the state says is owed, until nothing is."""
        s = self.s
        self.roster.new_wake_up()
        await self.fx.resume()
        advance(
            s,
            workflow.now(),
            self._kickoff_counts_from(),
            tier_before_planning=self.tier_before_planning(),
        )
        self.publish_search_attributes()
        await self._sync_profile()
        await self._announce_kickoff()
        await self._issue_licenses()
        await self._give_value_exercises()
        await self._announce_steps()
        await write_account_changes(s, self.fx, self._key)
        await self._send_reminders()
        await step_prompts.mark_prompts_done(
            self.fx,
            s.steps,
            lambda step, ts: self._key("step", step.key, "prompt", ts, "done"),
            self._name,
        )
        await self._escalate()
        await self._brief_check_in()
        await self._record_plans()
        await self._record_feature_requests()
        await self._write_renewal_outcome()
        await self._sync_health()
        self.publish_search_attributes()
        self.fx.publish_attention()

    def tier_before_planning(self) -> bool:
        """Whether a tier change waiting while the account does not plan yet applies from its
        own quarter (asked only then: the runs before waited for the first plan's)."""
        return tier_change_pending_before_planning(self.s) and workflow.patched(
            TIER_BEFORE_PLANNING_PATCH
        )

    def _kickoff_counts_from(self) -> datetime | None:
        """When the days of a kickoff plan opening now count from: the moment the account
        has its owners (now), when that is a later day than its start (None: the start)."""
        now = workflow.now()
        # Asked only when the due date differs: the runs before took the start's.
        if kickoff_due_from_owners(self.s, now) and workflow.patched(KICKOFF_DUE_FROM_OWNERS_PATCH):
            return now
        return None

    def owes_renewal_restart(self) -> bool:
        renewal = self.s.renewal
        return (
            renewal is not None
            and renewal.outcome is not None
            and renewal.outcome is not RenewalOutcome.CHURNED
            and renewal.outcome_done
        )

    def finished(self) -> bool:
        """A churned account ends once everything it owes is written."""
        s = self.s
        return (
            s.stage is LifecycleStage.CHURNED
            and s.renewal is not None
            and s.renewal.outcome_done
            and not any(plan for plan in s.plans if not plan.recorded)
            and not any(entry for entry in s.feature_requests if not entry.recorded)
            and self.fx.settled()
        )

    # --- Visibility --------------------------------------------------------------------------

    def publish_search_attributes(self) -> None:
        s = self.s
        p = s.profile
        renewal_date = s.renewal.renewal_date if s.renewal else p.renewal_date
        # What the attributes and the current details are made of: when none of it changed
        # since the last publication of this run, neither did they (a run's first always goes).
        now = workflow.now()
        publishing = (
            s.stage,
            s.vitals.colour,
            p.account_name,
            p.ce_owner,
            p.ae_owner,
            p.region,
            p.tier,
            renewal_date,
            *(
                (step.key, step.title, step.owner, step.role, step.due_at, _overdue(step, now))
                for step in s.steps
                if step.status is StepStatus.PENDING
            ),
        )
        if publishing == self._publishing:
            return
        self._publishing = publishing
        wanted = {
            sa.ACCOUNT_ID.name: p.account_id,
            sa.LIFECYCLE_STAGE.name: s.stage.value,
            sa.CUSTOMER_HEALTH.name: s.vitals.colour.value,
        }
        if p.ce_owner:
            wanted[sa.CE_OWNER.name] = p.ce_owner
        if p.ae_owner:
            wanted[sa.AE_OWNER.name] = p.ae_owner
        # Unguarded although older runs never upserted it: an upsert of search attributes is
        # not matched against history on replay (tests/histories/before-region-search-attribute
        # upserts Region alone where its run upserted nothing, and replays).
        if p.region:
            wanted[sa.REGION.name] = p.region
        publish_search_attributes(self._published, wanted)
        view = account_open_steps(s)
        publish_open_steps(view)
        typed: list[SearchAttributeUpdate[Any]] = []
        renews = f"renews {renewal_date.date().isoformat()}" if renewal_date else ""
        headline = start_summaries.line(p.account_name, start_summaries.tier(p.tier), renews)
        publish_current_details(headline, s.stage.value, view)
        if p.tier in (1, 2, 3) and self._published_typed.get("tier") != p.tier:
            typed.append(sa.ACCOUNT_TIER.value_set(p.tier))
            self._published_typed["tier"] = p.tier
        if renewal_date is not None and self._published_typed.get("renewal") != renewal_date:
            typed.append(sa.RENEWAL_DATE.value_set(renewal_date))
            self._published_typed["renewal"] = renewal_date
        if typed:
            workflow.upsert_search_attributes(typed)

    # --- Salesforce profile ------------------------------------------------------------------

    async def _sync_profile(self) -> None:
        s = self.s
        if s.profile_synced >= s.profile_version or missing_profile(s):
            return
        version = s.profile_version
        p = s.profile
        assert p.renewal_date is not None
        await effects.update_salesforce(
            self.fx,
            SalesforceFieldUpdate(
                self._key("profile", version),
                "Account",
                p.account_id,
                {"Tier__c": str(p.tier), "Renewal_Date__c": _date(p.renewal_date)},
            ),
        )
        s.profile_synced = version

    async def _announce_kickoff(self) -> None:
        s = self.s
        if s.kickoff_announced or missing_profile(s):
            return
        # Added after accounts were running: their histories have no such post.
        if workflow.patched(KICKOFF_ANNOUNCEMENT_PATCH):
            p = s.profile
            await effects.post_slack(
                self.fx,
                SlackPost(
                    self._key("kickoff", "announcement"),
                    s.config.announce_channel,
                    f"New customer {self._name}: Tier {p.tier}, {p.seats} seats, renewal"
                    f" {_date(p.renewal_date)}. CE <@{p.ce_owner}>, AE <@{p.ae_owner}>."
                    " Kickoff call next.",
                ),
            )
        s.kickoff_announced = True

    # --- Licenses ----------------------------------------------------------------------------

    async def _issue_licenses(self) -> None:
        for grant in self.s.licenses:
            if grant.key_id is None:
                await effects.issue_license_key(
                    self.fx,
                    LicenseRequest(
                        idempotency_key=self._key("license", grant.number),
                        account_id=self.s.profile.account_id,
                        customer=self.s.profile.account_name,
                        kind="full",
                        seats=grant.seats,
                        expires_at=grant.expires_at,
                    ),
                    grant,
                )
            if grant.key_id and not grant.announced:
                await self._announce_license(grant)

    async def _announce_license(self, grant: LicenseGrant) -> None:
        s = self.s
        await effects.post_slack(
            self.fx,
            SlackPost(
                self._key("license", grant.number, "announcement"),
                s.profile.ce_owner or s.config.announce_channel,
                f"New license key {grant.key_id} for {self._name} ({escape(grant.reason)}):"
                f" {grant.seats} seats, valid until {_date(grant.expires_at)}."
                " The signed key is in the license_keys table; check it with"
                " `dealcycle license verify`.",
            ),
        )
        grant.announced = True

    # --- Steps -------------------------------------------------------------------------------

    def _how_to_finish(self, step: AccountStep) -> str:
        template = _HOW_TO_FINISH.get(step.kind, _DEFAULT_HOW)
        # Value Engineering ("VE") is no role the CLI takes: they record it as any CE may.
        role = step.role if step.role in (Role.AE.value, Role.CE.value) else Role.CE.value
        return template.format(
            account=self.s.profile.account_id,
            owner=step.owner,
            role=role,
            key=step.key,
            quarter=step.key.removeprefix("account-plan-"),
        )

    def _step_prompt(self, key: str, step: AccountStep, prompt: str) -> SlackPost:
        """A step's prompt to its owner with Snooze and Open, and Done unless the step is
        done by recording something; the CLI command only in the fallback text."""
        info = workflow.info()
        blocks = step_prompt_blocks(
            prompt,
            workflow_id=info.workflow_id,
            step=step.key,
            kind="account",
            url=workflow_url(
                self.s.config.temporal_ui_url, self.s.config.namespace, info.workflow_id
            ),
            done=step.kind not in _HOW_TO_FINISH,
            form=_FORMS.get(step.kind),
        )
        return SlackPost(
            key, step.owner, f"{prompt} When done: {self._how_to_finish(step)}", blocks=blocks
        )

    async def _give_value_exercises(self) -> None:
        """A value-realization task goes to Value Engineering as of the day it opens."""
        for step in self.s.steps:
            if (
                step.kind is StepKind.VALUE_REALIZATION
                and not step.announced
                and step.status is StepStatus.PENDING
            ):
                step.owner = (await self.roster.current()).value_engineering

    async def _announce_steps(self) -> None:
        s = self.s
        trainings = [
            step for step in s.steps if step.kind is StepKind.TRAINING and not step.announced
        ]
        if trainings:
            await effects.post_slack(
                self.fx,
                SlackPost(
                    self._key("onboarding", "plan"),
                    s.profile.ce_owner,
                    f"Onboarding started for {self._name}: production is ready. Until it"
                    " completes, this onboarding plan is the customer's roadmap: "
                    + ", ".join(escape(step.title.removeprefix("Training: ")) for step in trainings)
                    + f". Mark each training with: dealcycle account step"
                    f" {s.profile.account_id} training-101 --by {s.profile.ce_owner} --role CE",
                ),
            )
            for step in trainings:
                step.announced = True
        for step in s.steps:
            if step.announced or step.status is not StepStatus.PENDING:
                step.announced = True
                continue
            await effects.post_slack(
                self.fx,
                self._step_prompt(
                    self._key("step", step.key, "announcement"),
                    step,
                    f"{escape(step.title)} for {self._name}: due {_date(step.due_at)}.",
                ),
                then=step_prompts.remember_prompt(step),
            )
            if step.salesforce_task and step.due_at is not None:
                await effects.create_salesforce_task(
                    self.fx,
                    SalesforceTaskRequest(
                        idempotency_key=self._key("step", step.key, "task"),
                        what_id=s.profile.account_id,
                        subject=f"{step.title}: {s.profile.account_name}",
                        activity_date=_date(step.due_at),
                        description=f"dealcycle step {step.key}",
                        owner_hint=step.owner,
                    ),
                )
            step.announced = True

    async def _send_reminders(self) -> None:
        now = workflow.now()
        for step in reminders_due(self.s, now):
            await effects.post_slack(
                self.fx,
                self._step_prompt(
                    self._step_key(step, "reminder", step.reminders_sent + 1),
                    step,
                    f"Overdue: {escape(step.title)} for {self._name} was due {_date(step.due_at)}.",
                ),
                kind=EffectKind.REMINDER,
                then=step_prompts.remember_prompt(step),
            )
            step.reminders_sent += 1
            step.last_reminded_at = now

    async def _escalate(self) -> None:
        s = self.s
        for step in escalations_due(s, workflow.now()):
            await effects.post_slack(
                self.fx,
                SlackPost(
                    self._step_key(step, "escalation"),
                    (await self.roster.current()).ce_leader,
                    f"Escalation: {escape(step.title)} for {self._name} is overdue since"
                    f" {_date(step.due_at)}; <@{step.owner}> was reminded"
                    f" {step.reminders_sent} times.",
                ),
            )
            step.escalated = True

    # --- Check-ins ---------------------------------------------------------------------------

    async def _brief_check_in(self) -> None:
        s = self.s
        if not check_in_brief_due(s, workflow.now()):
            return
        await effects.post_slack(
            self.fx,
            SlackPost(
                self._key("check-in", s.check_ins_briefed + 1, "brief"),
                s.profile.ce_owner,
                self._brief_text(),
            ),
            kind=EffectKind.REMINDER,
        )
        after_check_in_brief(s)

    def _brief_text(self) -> str:
        s = self.s
        usage = s.usage
        lines = [
            f"Check-in with {self._name} on {_date(s.next_check_in_at)}"
            f" ({s.cadence.value if s.cadence else 'as needed'}). Preparation brief:"
        ]
        if usage is None:
            lines.append("• Usage: no usage report received yet")
        else:
            lines.append(
                f"• Usage: {usage.active_users} active users of {s.profile.seats} seats"
                f" (reported {_date(usage.reported_at)})"
            )
            lines.append(f"• Version: {escape(usage.version)}")
            lines.append(
                "• Open support items: "
                + ("; ".join(escape(item) for item in usage.open_support_items) or "none")
            )
        requests = s.feature_requests[-5:]
        lines.append(
            "• Feature requests: "
            + ("; ".join(f"#{entry.number} {escape(entry.title)}" for entry in requests) or "none")
        )
        open_steps = [step for step in s.steps if step.status is StepStatus.PENDING]
        if open_steps:
            lines.append(
                "• Open work: "
                + "; ".join(
                    f"{escape(step.title)} (due {_date(step.due_at)})" for step in open_steps[:5]
                )
            )
        return "\n".join(lines)

    # --- Plans and feedback ------------------------------------------------------------------

    async def _record_plans(self) -> None:
        for plan in self.s.plans:
            if not plan.recorded:
                await self._record_plan(plan)

    async def _record_plan(self, submission: PlanSubmission) -> None:
        s = self.s
        plan = submission.plan
        version = submission.version
        await effects.record(
            self.fx,
            effects.RECORD_ACCOUNT_PLAN,
            AccountPlanRecord(
                idempotency_key=self._key("plan", version, "record"),
                account_id=s.profile.account_id,
                quarter=plan.quarter,
                tier=submission.tier,
                submitted_by=plan.actor,
                submitted_at=submission.submitted_at,
                contacts={
                    "champion": plan.contacts.champion,
                    "economic_buyer": plan.contacts.economic_buyer,
                    "advocate": plan.contacts.advocate,
                    "admin": plan.contacts.admin,
                },
                use_cases=list(plan.use_cases),
                health=plan.health.strip().lower(),
                expansion_opportunities=list(plan.expansion_opportunities),
                risks=list(plan.risks),
                product_feedback_themes=list(plan.product_feedback_themes),
                objectives=list(plan.objectives),
                next_steps=plan.next_steps,
                link=plan.link,
            ),
            f"record the {plan.quarter} account plan",
        )
        await effects.update_salesforce(
            self.fx,
            SalesforceFieldUpdate(
                self._key("plan", version, "salesforce"),
                "Account",
                s.profile.account_id,
                {"Notes_Next_Steps__c": plan.next_steps, "Account_Plan_Link__c": plan.link},
            ),
        )
        d = s.config.durations
        if submission.tier == 1:
            channel = s.config.account_review_channel
            text = (
                f"Tier 1 account plan for {self._name}, {plan.quarter}: {escape(plan.link)}"
                f" For the 2:2 review on"
                f" {_date(day_of_quarter(plan.quarter, d.two_two_review_day_of_quarter))}"
                f" and the internal QBR on"
                f" {_date(day_of_quarter(plan.quarter, d.internal_qbr_day_of_quarter))}."
                f" Next steps: {escape(plan.next_steps)}"
            )
        else:
            channel = (await self.roster.current()).ce_leader
            text = (
                f"Tier {submission.tier} account plan for {self._name}, {plan.quarter}, for your"
                f" 1:1 with <@{s.profile.ce_owner}>: {escape(plan.link)}"
                f" Next steps: {escape(plan.next_steps)}"
            )
        await effects.post_slack(
            self.fx, SlackPost(self._key("plan", version, "share"), channel, text)
        )
        submission.recorded = True

    async def _record_feature_requests(self) -> None:
        s = self.s
        for entry in s.feature_requests:
            if entry.recorded:
                continue
            await effects.record(
                self.fx,
                effects.RECORD_FEATURE_REQUEST,
                FeatureRequestRecord(
                    idempotency_key=self._key("feature-request", entry.number, "record"),
                    account_id=s.profile.account_id,
                    account_name=s.profile.account_name,
                    number=entry.number,
                    title=entry.title,
                    detail=entry.detail,
                    requested_by=entry.actor,
                    role=entry.role.value,
                    requested_at=entry.at,
                ),
                f"record feature request #{entry.number}",
            )
            detail = f" {escape(entry.detail)}" if entry.detail else ""
            await effects.post_slack(
                self.fx,
                SlackPost(
                    self._key("feature-request", entry.number, "share"),
                    s.config.product_feedback_channel,
                    f"Feature request #{entry.number} from {self._name} (Tier"
                    f" {s.profile.tier}), via <@{entry.actor}>: {escape(entry.title)}.{detail}",
                ),
            )
            entry.recorded = True

    # --- Health and red-account cases ------------------------------------------------------

    async def _sync_health(self) -> None:
        s = self.s
        h = s.vitals
        if h.synced_changes < h.changes:
            changes = h.changes
            await effects.update_salesforce(
                self.fx,
                SalesforceFieldUpdate(
                    self._key("health", changes, "salesforce"),
                    "Account",
                    s.profile.account_id,
                    {"Customer_Health__c": h.colour.label},
                ),
            )
            h.synced_changes = changes
        if h.open_case is not None and not h.case_started:
            await self._open_case(h.open_case)
            h.case_started = True
        while h.pending_case_signals:
            signal = h.pending_case_signals[0]
            try:
                await workflow.get_external_workflow_handle(signal.case_id).signal(
                    CASE_SIGNAL, signal
                )
            except Exception as err:  # the case may have ended; nothing is left to tell it
                workflow.logger.warning("could not tell %s: %s", signal.case_id, err)
            h.pending_case_signals = h.pending_case_signals[1:]

    async def _open_case(self, case_id: str) -> None:
        s = self.s
        p = s.profile
        info = workflow.info()
        url = workflow_url(s.config.temporal_ui_url, s.config.namespace, info.workflow_id)
        case = RedAccountCaseStart(
            case_id=case_id,
            account_id=p.account_id,
            account_name=p.account_name,
            tier=p.tier,
            renewal_date=s.renewal.renewal_date if s.renewal else p.renewal_date,
            ae_owner=p.ae_owner,
            ce_owner=p.ce_owner,
            reason=s.vitals.case_reason,
            opened_at=workflow.now(),
            config=s.config.health,
            roster=s.config.roster,
            account_workflow_url=url,
        )
        shown = start_summaries.red_account_case(case)
        try:
            await workflow.start_child_workflow(
                RED_ACCOUNT_WORKFLOW_TYPE,
                case,
                id=case_id,
                static_summary=shown.summary,
                static_details=shown.details,
                # Found by its account's id in the Web UI (an id: it never goes stale; the
                # owners are its StepOwners, kept current as the account's are reassigned).
                search_attributes=TypedSearchAttributes(
                    [SearchAttributePair(sa.ACCOUNT_ID, p.account_id)]
                ),
                result_type=RedAccountResult,
                # The case outlives a continue-as-new of the account.
                parent_close_policy=ParentClosePolicy.ABANDON,
            )
        except WorkflowAlreadyStartedError:
            workflow.logger.info("red-account case %s was already open", case_id)

    # --- Renewal -----------------------------------------------------------------------------

    async def _write_renewal_outcome(self) -> None:
        s = self.s
        renewal = s.renewal
        if renewal is None or renewal.outcome is None or renewal.outcome_done:
            return
        tag = _date(renewal.renewal_date)
        closed_case = None
        # Added after accounts were running: their churns signalled no case.
        if (
            renewal.outcome is RenewalOutcome.CHURNED
            and s.vitals.open_case is not None
            and workflow.patched(CHURN_CLOSES_CASE_PATCH)
        ):
            # Before any await: told once, sent by ``_sync_health`` in this same pass.
            closed_case = health_rules.close_case_on_churn(
                s.vitals, renewal.outcome_by or "", workflow.now()
            )
        if renewal.outcome is RenewalOutcome.CHURNED:
            await effects.update_salesforce(
                self.fx,
                SalesforceFieldUpdate(
                    self._key("renewal", tag, "salesforce"),
                    "Account",
                    s.profile.account_id,
                    {"Type": "Former Customer"},
                ),
            )
            text = (
                f"{self._name} churned at the {tag} renewal (recorded by"
                f" <@{renewal.outcome_by}>). The license is left to expire on {tag}."
            )
            if closed_case is not None:
                text += f" Red-account case {closed_case} is closed (churned)."
        else:
            if renewal.outcome is RenewalOutcome.NEW_TEAM:
                # The new team's seats; an outcome recorded before they were asked for: all.
                seats = renewal.new_team_seats or s.profile.seats
                await self._start_expansion_opportunity(renewal.expansion_opportunity_id, seats)
            text = (
                f"{self._name} renewed at {tag} ({renewal.outcome.value.replace('_', ' ')},"
                f" recorded by <@{renewal.outcome_by}>): {s.profile.seats} seats until"
                f" {_date(renewal.next_renewal_date)}."
            )
        note = f" {escape(renewal.outcome_note)}" if renewal.outcome_note else ""
        await effects.post_slack(
            self.fx,
            SlackPost(
                self._key("renewal", tag, "announcement"), s.config.announce_channel, text + note
            ),
        )
        renewal.outcome_done = True

    async def _start_expansion_opportunity(self, opportunity_id: str, seats: int) -> None:
        s = self.s
        p = s.profile
        try:
            region = Region(p.region)
        except ValueError:
            region = Region.US_EAST_EMEA
        start = OpportunityStart(
            opportunity_id=opportunity_id,
            account_id=p.account_id,
            account_name=p.account_name,
            ae_owner=p.ae_owner,
            ce_owner=p.ce_owner,
            region=region,
            deployment_type=_deployment(p.deployment_type),
            tier=p.tier,
            kind=OpportunityKind.EXPANSION,
            complex_engagement=False,
            roster=s.config.roster,
            seats=seats,
            durations=s.config.durations,
        )
        shown = start_summaries.opportunity(start)
        try:
            await workflow.start_child_workflow(
                OPPORTUNITY_WORKFLOW_TYPE,
                OpportunityInput(start=start),
                id=opportunity_workflow_id(opportunity_id),
                static_summary=shown.summary,
                static_details=shown.details,
                # The new team's deal outlives this run: the account continues as new.
                result_type=OpportunityResult,
                parent_close_policy=ParentClosePolicy.ABANDON,
            )
        except WorkflowAlreadyStartedError:
            workflow.logger.info("expansion opportunity %s was already running", opportunity_id)


def _deployment(raw: str) -> DeploymentType:
    try:
        return DeploymentType(raw)
    except ValueError:
        return DeploymentType.SELF_HOSTED
