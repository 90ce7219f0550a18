"""What the customer tells and shows: feature requests (shared with product) and usage reports
(for the check-in briefs)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from schemas.account import AccountSnapshot, FeatureRequestEntry, RecordFeatureRequest, UsageReport
from schemas.errors import RuleViolation
from workflows.account_steps import audit, check_actor, check_not_churned


def check_feature_request(s: AccountSnapshot, request: RecordFeatureRequest) -> None:
    check_not_churned(s)
    check_actor(s, request.actor, request.role)
    title = request.title.strip()
    if not title:
        raise RuleViolation("a feature request needs a title")


def apply_feature_request(s: AccountSnapshot, request: RecordFeatureRequest, now: datetime) -> str:
    check_feature_request(s, request)
    s.feature_requests_recorded += 1
    number = s.feature_requests_recorded
    s.feature_requests.append(
        FeatureRequestEntry(
            number, request.title.strip(), request.detail, request.actor, request.role, now
        )
    )
    audit(s, now, request.actor, f"feature request #{number}: {request.title.strip()}", request.via)
    return f"feature request #{number} recorded and shared with product"


def apply_usage(s: AccountSnapshot, report: UsageReport, now: datetime) -> None:
    s.usage = replace(report, reported_at=report.reported_at or now)
