"""Issuing license keys.

The signed key string goes into ``license_keys`` and nowhere else: the workflow gets only
:class:`IssuedLicense` (id, kind, expiry), so the key never enters workflow history, and the
logs name keys by id.

A key is never refused for being issued late (its request waited behind a Slack outage, or
a retry came after the requested expiry): the expiry is derived when the key is signed, the
requested one or, if that leaves less than ``MINIMUM_VALIDITY``, ``MINIMUM_VALIDITY`` from
the signing. ``IssuedLicense.expires_at`` is the key's real expiry.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.errors import non_retryable
from dealcycle.db.ledger import IdempotencyLedger
from dealcycle.db.models import LicenseKey
from dealcycle.licensing import LICENSE_KINDS, LicensePayload, LicenseSigner
from schemas.effects import IssuedLicense, LicenseRequest
from schemas.limits import ACCOUNT_NAME_CHARS

LEDGER_KIND = "license_issue"
# Fixed forever: key ids are uuid5(namespace, idempotency key), and a retry must reproduce them.
KEY_ID_NAMESPACE = uuid.UUID("5f0c6f1e-8d3a-4f1b-9a51-2f4d3c1b7e60")
INVALID_REQUEST = "InvalidLicenseRequest"
log = structlog.get_logger(__name__)
MINIMUM_VALIDITY = timedelta(days=1)
"""The shortest a key is valid from its signing, whatever expiry was requested."""


def effective_expiry(requested: datetime, issued_at: datetime) -> datetime:
    """The expiry a key signed at ``issued_at`` gets for the ``requested`` one."""
    return max(requested.astimezone(UTC), issued_at.astimezone(UTC) + MINIMUM_VALIDITY)


def license_key_id(idempotency_key: str) -> str:
    """The key id a request with this idempotency key gets, on every attempt."""
    return str(uuid.uuid5(KEY_ID_NAMESPACE, idempotency_key))


def load_license_key(engine: Engine, key_id: str) -> str | None:
    """The signed license key string stored under ``key_id``, or ``None``."""
    with Session(engine) as session:
        row = session.get(LicenseKey, key_id)
        return row.license_key if row else None


def _utc(value: datetime) -> datetime:
    # SQLite returns naive datetimes for DateTime(timezone=True); they were stored as UTC.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _invalid(message: str) -> ApplicationError:
    return non_retryable(message, INVALID_REQUEST)


def _check_column(name: str, value: object, max_length: int) -> None:
    if not isinstance(value, str) or not value.strip():
        raise _invalid(f"license request {name} must be a non-empty string")
    if len(value) > max_length:
        raise _invalid(f"license request {name} is longer than {max_length} characters")


def _check_shape(request: LicenseRequest) -> None:
    """Problems no retry can fix, found without touching the database."""
    _check_column("idempotency_key", request.idempotency_key, 200)
    _check_column("account_id", request.account_id, 64)
    _check_column("customer", request.customer, ACCOUNT_NAME_CHARS)
    if request.kind not in LICENSE_KINDS:
        raise _invalid(
            f"license kind must be one of {', '.join(LICENSE_KINDS)}, not {request.kind!r}"
        )
    if isinstance(request.seats, bool) or not isinstance(request.seats, int) or request.seats < 1:
        raise _invalid(f"license seats must be a whole number of at least 1, not {request.seats!r}")
    if not isinstance(request.expires_at, datetime) or request.expires_at.utcoffset() is None:
        raise _invalid("license expires_at must be a timezone-aware datetime")


def _issued(row: LicenseKey) -> IssuedLicense:
    return IssuedLicense(key_id=row.key_id, kind=row.kind, expires_at=_utc(row.expires_at))


def _issued_from_ledger(result: dict[str, Any]) -> IssuedLicense:
    return IssuedLicense(
        key_id=result["key_id"],
        kind=result["kind"],
        expires_at=datetime.fromisoformat(result["expires_at"]),
    )


def _ledger_result(issued: IssuedLicense) -> dict[str, Any]:
    return {
        "key_id": issued.key_id,
        "kind": issued.kind,
        "expires_at": issued.expires_at.isoformat(),
    }


def _check_same_request(row: LicenseKey, request: LicenseRequest) -> None:
    """A reused idempotency key with a different request is a workflow bug; say so loudly
    rather than hand back a license for something else."""
    differences = [
        name
        for name, stored, requested in (
            ("account_id", row.account_id, request.account_id),
            ("customer", row.customer, request.customer),
            ("kind", row.kind, request.kind),
            ("seats", row.seats, request.seats),
            (
                "expires_at",
                _utc(row.expires_at),
                effective_expiry(request.expires_at, _utc(row.issued_at)),
            ),
        )
        if stored != requested
    ]
    if differences:
        raise _invalid(
            f"idempotency key {request.idempotency_key!r} already issued license {row.key_id}"
            f" with a different {', '.join(differences)}"
        )


class LicenseActivities:
    def __init__(self, signer: LicenseSigner, engine: Engine, ledger: IdempotencyLedger) -> None:
        self._signer = signer
        self._engine = engine
        self._ledger = ledger

    @activity.defn
    async def issue_license_key(self, request: LicenseRequest) -> IssuedLicense:
        """Sign and store a license key, once per idempotency key.

        A retry returns the first :class:`IssuedLicense` (same key id, nothing signed again).
        Invalid requests fail with a non-retryable ``ApplicationError`` naming the problem.
        """
        _check_shape(request)
        issued, fresh = await asyncio.to_thread(self._issue, request)
        # Ids in the message itself: the log formatter does not render ``extra`` fields.
        activity.logger.info(
            "%s %s license key %s for account %s, expiring %s",
            "issued" if fresh else "already issued",
            issued.kind,
            issued.key_id,
            request.account_id,
            issued.expires_at.isoformat(),
        )
        return issued

    def _find(self, session: Session, idempotency_key: str) -> LicenseKey | None:
        return session.execute(
            select(LicenseKey).where(LicenseKey.idempotency_key == idempotency_key)
        ).scalar_one_or_none()

    def _issue(self, request: LicenseRequest) -> tuple[IssuedLicense, bool]:
        """Blocking. Returns the license and whether this call signed it."""
        key = request.idempotency_key
        entry = self._ledger.lookup(key)
        if entry is not None and entry.kind != LEDGER_KIND:
            raise _invalid(f"idempotency key {key!r} was already used for a {entry.kind} write")
        with Session(self._engine) as session:
            existing = self._find(session, key)
        if existing is not None:
            _check_same_request(existing, request)
        if entry is not None and entry.done and entry.result is not None:
            return _issued_from_ledger(entry.result), False
        if existing is not None:
            # An earlier attempt stored the key but died before finishing the ledger entry.
            self._ledger.start(key, LEDGER_KIND)
            issued = _issued(existing)
            self._ledger.finish(key, _ledger_result(issued))
            return issued, False

        now = datetime.now(UTC)
        expires = effective_expiry(request.expires_at, now)
        if expires != request.expires_at:
            log.info(
                "license_expiry_extended",
                key_id=license_key_id(key),
                requested=request.expires_at.isoformat(),
                expires=expires.isoformat(),
            )
        self._ledger.start(key, LEDGER_KIND)
        payload = LicensePayload(
            key_id=license_key_id(key),
            account=request.account_id,
            customer=request.customer,
            kind=request.kind,
            seats=request.seats,
            issued=now,
            expires=expires,
        )
        row = LicenseKey(
            key_id=payload.key_id,
            account_id=payload.account,
            customer=payload.customer,
            kind=payload.kind,
            seats=payload.seats,
            issued_at=payload.issued,
            expires_at=payload.expires,
            license_key=self._signer.sign(payload),
            idempotency_key=key,
        )
        fresh = True
        with Session(self._engine) as session:
            session.add(row)
            try:
                session.commit()
            except IntegrityError:
                # A concurrent attempt with the same idempotency key stored its key first.
                session.rollback()
                stored = self._find(session, key)
                if stored is None:
                    raise
                _check_same_request(stored, request)
                row, fresh = stored, False
            issued = _issued(row)
        self._ledger.finish(key, _ledger_result(issued))
        return issued, fresh
