"""The rules of an opportunity, as pure functions over ``OpportunitySnapshot``.

``check_*`` only read (update validators); ``apply_*`` check, then change the snapshot and
return a sentence for the person who acted.
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit

from schemas import limits
from schemas.common import Role, StepStatus, TechnicalWinStatus
from schemas.errors import RuleViolation
from schemas.opportunity import (
    DISCOVERY_STEPS,
    AbandonOpportunity,
    AdvanceStage,
    AuditEntry,
    ChildLink,
    ChildLinkKind,
    CloseOpportunity,
    CompleteTddPart,
    LinkTdd,
    OpportunityResult,
    OpportunitySnapshot,
    OpportunityStart,
    OpportunityState,
    OpportunityStatus,
    OpportunityStep,
    ReceiveQuestionnaire,
    RecordDealReview,
    ReopenOpportunity,
    Stage,
    StartOpportunityTrial,
    TddPart,
)
from schemas.trial import CompleteStep


def check_start(start: OpportunityStart, now: datetime) -> None:
    limits.check(start, now, "cannot start the opportunity: ")
    problems = [
        f"{name} is empty"
        for name in ("opportunity_id", "account_id", "account_name", "ce_owner", "ae_owner")
        if not getattr(start, name).strip()
    ]
    if start.stage.closed:
        problems.append(f"an opportunity cannot start {start.stage.value}")
    if start.ce_owner and start.ce_owner == start.ae_owner:
        problems.append("the CE and the AE must be different people")
    if problems:
        raise RuleViolation("cannot start the opportunity: " + "; ".join(problems))


def new_snapshot(start: OpportunityStart, now: datetime, effect_scope: str) -> OpportunitySnapshot:
    check_start(start, now)
    steps = [
        OpportunityStep(step.key, step.title, step.lead, owner_for(start, step.lead))
        for step in DISCOVERY_STEPS
    ]
    return OpportunitySnapshot(
        start=start, effect_scope=effect_scope, stage=start.stage, steps=steps
    )


def owner_for(start: OpportunityStart, role: Role) -> str:
    return start.ce_owner if role is Role.CE else start.ae_owner


def _audit(s: OpportunitySnapshot, now: datetime, actor: str, action: str, via: str = "") -> str:
    s.audit.append(AuditEntry(now, actor, action, via))
    return action


def _check_actor(s: OpportunitySnapshot, actor: str, role: Role) -> None:
    if not actor.strip():
        raise RuleViolation("say who is acting: the actor is empty")
    owner = owner_for(s.start, role)
    if actor != owner:
        raise RuleViolation(
            f"{actor} is not the {role.value} of this opportunity (the {role.value} is {owner})"
        )


def _check_open(s: OpportunitySnapshot) -> None:
    if s.status is OpportunityStatus.ABANDONED:
        raise RuleViolation("the opportunity is abandoned; reopen it first")
    if s.status is not OpportunityStatus.OPEN:
        raise RuleViolation(f"the opportunity is closed ({s.stage.value}); reopen it first")


def missing_for(s: OpportunitySnapshot, target: Stage) -> list[str]:
    """What the gates between here and ``target`` still need."""
    missing = []
    if target.rank > Stage.QUALIFICATION.rank and s.tdd_url is None:
        missing.append("a Technical Design Document linked")
    if target.rank > Stage.VALIDATION.rank and target is not Stage.CLOSED_LOST:
        parts = [part.value for part in TddPart if part not in s.tdd_parts_done]
        if parts:
            missing.append("the TDD's " + " and ".join(parts) + " complete")
    return missing


# --- Stages ----------------------------------------------------------------------------------


def check_advance(s: OpportunitySnapshot, request: AdvanceStage) -> None:
    _check_open(s)
    _check_actor(s, request.actor, request.role)
    if request.stage.closed:
        raise RuleViolation(
            f"close the opportunity with `close`, not by moving it to {request.stage.value}"
        )
    if request.stage is s.stage:
        raise RuleViolation(f"the opportunity is already in {s.stage.value}")
    if request.stage.rank < s.stage.rank:
        raise RuleViolation(
            f"cannot move back from {s.stage.value} to {request.stage.value};"
            " reopen it at that stage instead"
        )
    missing = missing_for(s, request.stage)
    if missing:
        raise RuleViolation(f"cannot move to {request.stage.value}: needs " + "; ".join(missing))


def apply_advance(s: OpportunitySnapshot, request: AdvanceStage, now: datetime) -> str:
    check_advance(s, request)
    previous = s.stage
    s.stage = request.stage
    s.stage_version += 1
    return _audit(
        s, now, request.actor, f"moved from {previous.value} to {request.stage.value}", request.via
    )


# --- Discovery, TDD, deal review -------------------------------------------------------------


def check_complete_step(s: OpportunitySnapshot, request: CompleteStep) -> OpportunityStep:
    _check_open(s)
    step = next((step for step in s.steps if step.key == request.step), None)
    if step is None:
        known = ", ".join(step.key for step in s.steps)
        raise RuleViolation(f"unknown step {request.step!r}; the steps are: {known}")
    if request.role is not step.lead:
        raise RuleViolation(
            f"step {step.key!r} is led by the {step.lead.value}, not the {request.role.value}"
        )
    _check_actor(s, request.actor, request.role)
    if step.status is StepStatus.DONE:
        raise RuleViolation(f"step {step.key!r} was already completed by {step.completed_by}")
    return step


def apply_complete_step(s: OpportunitySnapshot, request: CompleteStep, now: datetime) -> str:
    step = check_complete_step(s, request)
    step.status, step.completed_by, step.completed_at, step.note = (
        StepStatus.DONE,
        request.actor,
        now,
        request.note,
    )
    return _audit(s, now, request.actor, f"completed {step.key}", request.via)


def check_link_tdd(s: OpportunitySnapshot, request: LinkTdd) -> None:
    _check_open(s)
    _check_actor(s, request.actor, request.role)
    if not request.url.startswith(("https://", "http://")):
        raise RuleViolation(f"the TDD link must be an http(s) URL, not {request.url!r}")


def check_link_tdd_request(s: OpportunitySnapshot, request: LinkTdd) -> None:
    """The validator's check: the handler's, and a link that leads somewhere (a host, no
    spaces). Not the handler's: a link accepted before this was checked replays as it ran."""
    check_link_tdd(s, request)
    if any(character.isspace() for character in request.url):
        raise RuleViolation(f"the TDD link has spaces in it: {request.url!r}")
    if not urlsplit(request.url).hostname:
        raise RuleViolation(f"the TDD link needs a host: {request.url!r}")


def apply_link_tdd(s: OpportunitySnapshot, request: LinkTdd, now: datetime) -> str:
    check_link_tdd(s, request)
    s.tdd_url = request.url
    return _audit(s, now, request.actor, f"linked the TDD {request.url}", request.via)


def check_tdd_part(s: OpportunitySnapshot, request: CompleteTddPart) -> None:
    _check_open(s)
    if request.role is not Role.CE:
        raise RuleViolation("the CE completes the TDD's parts, not the AE")
    _check_actor(s, request.actor, request.role)
    if s.tdd_url is None:
        raise RuleViolation("link the Technical Design Document first")
    if request.part in s.tdd_parts_done:
        raise RuleViolation(f"the TDD's {request.part.value} is already complete")


def apply_tdd_part(s: OpportunitySnapshot, request: CompleteTddPart, now: datetime) -> str:
    check_tdd_part(s, request)
    s.tdd_parts_done.append(request.part)
    return _audit(s, now, request.actor, f"completed the TDD's {request.part.value}", request.via)


def check_deal_review(s: OpportunitySnapshot, request: RecordDealReview) -> None:
    _check_open(s)
    _check_actor(s, request.actor, request.role)
    if not request.summary.strip():
        raise RuleViolation("record what the technical deal review concluded: the summary is empty")
    if s.deal_review is not None:
        raise RuleViolation("a technical deal review is already recorded")


def apply_deal_review(s: OpportunitySnapshot, request: RecordDealReview, now: datetime) -> str:
    check_deal_review(s, request)
    s.deal_review = request.summary.strip()
    return _audit(s, now, request.actor, "recorded the technical deal review", request.via)


# --- Trial and security review ---------------------------------------------------------------


def check_start_trial(s: OpportunitySnapshot, request: StartOpportunityTrial) -> None:
    _check_open(s)
    _check_actor(s, request.actor, request.role)
    if s.trial_link is not None and s.trial_link.how is ChildLinkKind.REFUSED:
        raise RuleViolation(s.trial_link.why)
    if s.trial_requested:
        raise RuleViolation(f"a trial was already started ({s.trial_workflow_id or 'starting'})")
    if s.tdd_url is None:
        raise RuleViolation(
            "a trial needs a Technical Design Document linked (it holds the trial design)"
        )
    if s.start.complex_engagement and s.deal_review is None:
        raise RuleViolation(
            "this is a complex engagement: record a technical deal review before the trial"
        )
    if request.length_days is not None and request.length_days < 1:
        raise RuleViolation(f"a trial lasts at least one day, not {request.length_days}")


def apply_start_trial(s: OpportunitySnapshot, request: StartOpportunityTrial, now: datetime) -> str:
    check_start_trial(s, request)
    s.trial_requested = True
    s.trial_length_days = request.length_days
    if s.technical_win is TechnicalWinStatus.NOT_STARTED:
        s.technical_win = TechnicalWinStatus.IN_PROGRESS
    return _audit(s, now, request.actor, "started the trial", request.via)


def request_trial(s: OpportunitySnapshot, request: StartOpportunityTrial) -> None:
    """Ask for the trial; the main loop starts or adopts it (see ``opportunity_children``)."""
    check_start_trial(s, request)
    s.trial_requested = True
    s.trial_length_days = request.length_days


def keeps_its_technical_win(s: OpportunitySnapshot, told: TechnicalWinStatus) -> bool:
    """Whether the opportunity keeps its technical win over the one its trial ended with.

    Not started there means nobody set one in the trial: every change set there was already
    told by signal, before the trial's end. The opportunity then keeps what it says (the in
    progress it set when it started the trial), or closing the deal, which ends the trial,
    would reset it to not started after the close announced it in progress."""
    return (
        told is TechnicalWinStatus.NOT_STARTED
        and s.technical_win is not TechnicalWinStatus.NOT_STARTED
    )


def _linked_message(link: ChildLink, name: str) -> str:
    if link.how is ChildLinkKind.REFUSED:
        raise RuleViolation(link.why)
    if link.how is ChildLinkKind.ADOPTED:
        return (
            f"adopted the running {name} {link.workflow_id} (started before this opportunity"
            f" asked for one, e.g. by `dealcycle trial start`): it reports to this opportunity"
            " now, and ends when the opportunity closes"
        )
    return f"started the {name} {link.workflow_id}"


def trial_linked(s: OpportunitySnapshot, actor: str, now: datetime, via: str = "") -> str:
    """What became of the trial asked for (refused: a violation, and nothing is recorded)."""
    assert s.trial_link is not None
    return _audit(s, now, actor, _linked_message(s.trial_link, "trial"), via)


def security_review_linked(s: OpportunitySnapshot, actor: str, now: datetime, via: str = "") -> str:
    assert s.security_review_link is not None
    message = _linked_message(s.security_review_link, "security review")
    return _audit(s, now, actor, f"received the customer's security questionnaire; {message}", via)


def check_questionnaire(s: OpportunitySnapshot, request: ReceiveQuestionnaire) -> None:
    _check_open(s)
    _check_actor(s, request.actor, request.role)
    link = s.security_review_link
    if link is not None and link.how is ChildLinkKind.REFUSED:
        raise RuleViolation(link.why)
    if link is not None and link.ended and not s.security_review_answered:
        raise RuleViolation(
            f"the security review {link.workflow_id} ended unanswered"
            + (f" ({link.concluded})" if link.concluded else "")
            + "; a deal has one security review"
        )
    if s.security_review_requested and not s.security_review_answered:
        raise RuleViolation(f"a security review is under way ({s.security_review_workflow_id})")
    if s.security_review_answered:
        raise RuleViolation("the security questionnaire was already answered")


def request_security_review(s: OpportunitySnapshot, request: ReceiveQuestionnaire) -> None:
    check_questionnaire(s, request)
    s.security_review_requested = True


def apply_questionnaire(
    s: OpportunitySnapshot, request: ReceiveQuestionnaire, now: datetime
) -> str:
    check_questionnaire(s, request)
    s.security_review_requested = True
    return _audit(
        s, now, request.actor, "received the customer's security questionnaire", request.via
    )


def child_retry_refused(s: OpportunitySnapshot, child: str) -> str:
    """Why a failed trial or security review is not to be started again (empty: it may be)."""
    if s.status is OpportunityStatus.OPEN:
        return ""
    where = "abandoned" if s.status is OpportunityStatus.ABANDONED else f"closed ({s.stage.value})"
    return (
        f"the opportunity is {where}: it needs its {child} no more, and a retry would start"
        " it again"
    )


# --- Close, abandon, reopen ------------------------------------------------------------------


def check_close(s: OpportunitySnapshot, request: CloseOpportunity) -> None:
    _check_open(s)
    _check_actor(s, request.actor, request.role)
    if request.won:
        missing = missing_for(s, Stage.CLOSED_WON)
        if missing:
            raise RuleViolation("cannot close it won: needs " + "; ".join(missing))
    elif not request.reason.strip():
        raise RuleViolation("closing it lost needs a reason")


def apply_close(s: OpportunitySnapshot, request: CloseOpportunity, now: datetime) -> str:
    check_close(s, request)
    s.last_open_stage = s.stage
    s.stage = Stage.CLOSED_WON if request.won else Stage.CLOSED_LOST
    s.status = OpportunityStatus.WON if request.won else OpportunityStatus.LOST
    s.closed_reason = request.reason.strip() or None
    s.closed_at = now
    s.stage_version += 1
    s.close_announced = False
    return _audit(
        s,
        now,
        request.actor,
        f"closed it {s.stage.value}" + (f": {s.closed_reason}" if s.closed_reason else ""),
        request.via,
    )


def check_abandon(s: OpportunitySnapshot, request: AbandonOpportunity) -> None:
    _check_open(s)
    _check_actor(s, request.actor, request.role)
    if not request.reason.strip():
        raise RuleViolation("abandoning an opportunity needs a reason")


def apply_abandon(s: OpportunitySnapshot, request: AbandonOpportunity, now: datetime) -> str:
    check_abandon(s, request)
    s.status = OpportunityStatus.ABANDONED
    s.closed_reason = request.reason.strip()
    return _audit(s, now, request.actor, f"abandoned it: {s.closed_reason}", request.via)


def check_reopen(s: OpportunitySnapshot, request: ReopenOpportunity) -> Stage:
    """The validator's check: the handler's, and past the stage it left, the stage gates as
    for `advance` (where it was, it may go back to)."""
    target = _reopen_target(s, request)
    current = s.last_open_stage or s.stage if s.stage.closed else s.stage
    missing = missing_for(s, target) if target.rank > current.rank else []
    if missing:
        raise RuleViolation(f"cannot reopen it at {target.value}: needs " + "; ".join(missing))
    return target


def _reopen_target(s: OpportunitySnapshot, request: ReopenOpportunity) -> Stage:
    """The handler's check. Not the gates: a reopen accepted before they were checked replays
    as it ran (a handler that refuses it now would not issue the commands its history has)."""
    _check_actor(s, request.actor, request.role)
    if not request.reason.strip():
        raise RuleViolation("reopening needs a reason")
    if s.status is OpportunityStatus.WON:
        raise RuleViolation(
            "the opportunity was won and handed off; open a new one for more business"
        )
    current = s.last_open_stage or s.stage if s.stage.closed else s.stage
    target = request.stage or current
    if target.closed:
        raise RuleViolation(f"reopen at an open stage, not {target.value}")
    if s.status is OpportunityStatus.OPEN and target.rank >= s.stage.rank:
        raise RuleViolation(
            f"the opportunity is open in {s.stage.value};"
            " reopen only moves it back to an earlier stage"
        )
    return target


def apply_reopen(s: OpportunitySnapshot, request: ReopenOpportunity, now: datetime) -> str:
    target = _reopen_target(s, request)
    previous = s.stage
    s.status = OpportunityStatus.OPEN
    s.stage = target
    s.closed_reason = None
    s.closed_at = None
    if target is not previous:
        s.stage_version += 1
    return _audit(
        s,
        now,
        request.actor,
        f"reopened it at {target.value}: {request.reason.strip()}",
        request.via,
    )


# --- Views -----------------------------------------------------------------------------------


def state_view(s: OpportunitySnapshot, workflow_id: str) -> OpportunityState:
    return OpportunityState(
        workflow_id=workflow_id,
        opportunity_id=s.start.opportunity_id,
        account_id=s.start.account_id,
        account_name=s.start.account_name,
        ae_owner=s.start.ae_owner,
        ce_owner=s.start.ce_owner,
        region=s.start.region,
        kind=s.start.kind,
        complex_engagement=s.start.complex_engagement,
        stage=s.stage,
        status=s.status,
        steps=list(s.steps),
        tdd_url=s.tdd_url,
        tdd_parts_done=list(s.tdd_parts_done),
        deal_review=s.deal_review,
        trial_workflow_id=s.trial_workflow_id,
        trial_phase=s.trial_phase,
        technical_win=s.technical_win,
        security_review_workflow_id=s.security_review_workflow_id,
        security_review_answered=s.security_review_answered,
        closed_reason=s.closed_reason,
        audit=list(s.audit),
        trial_link=s.trial_link,
        security_review_link=s.security_review_link,
    )


def result_of(s: OpportunitySnapshot) -> OpportunityResult:
    return OpportunityResult(
        s.start.opportunity_id, s.status, s.stage, s.technical_win, s.closed_at
    )
