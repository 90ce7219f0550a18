"""A local HTTPS fake of the Salesforce REST API parts dealcycle uses.

The real simple-salesforce client talks to it: OAuth 2.0 login with the JWT bearer, client
credentials and username-password grants (``dealcycle.fakes.salesforce_oauth``), sObject
read/create/update/upsert/delete, a small SOQL subset, the ``Sforce-Limit-Info`` header and
Salesforce's error bodies. Every call is recorded; failures can be scripted.

The org it fakes is the one the README sets up: each object's custom fields (and the lengths
of its text fields) come from ``schemas.salesforce_fields``, so a write to a field missing
there answers ``400 INVALID_FIELD`` and a value over its length ``400 STRING_TOO_LONG``.

Control API (under ``/__fake__/``, e.g. through ``ControlClient`` or ``tests/support/fakes``;
the Python method of the in-process fake in brackets):

- ``GET records/<sObject>`` (``records``), ``POST records/<sObject> {fields}``
  (``seed_record``);
- ``POST expire_sessions`` (``expire_sessions``): the next data call answers 401
  ``INVALID_SESSION_ID`` and the client logs in again;
- ``POST fields {"sobject", "field", "present": false}`` (``remove_field`` /
  ``restore_field``): the org loses (or regains) a field, so writes to it answer
  ``INVALID_FIELD`` until it is back;
- ``POST faults`` with the generic fields or a shortcut, each taking ``count`` (and ``path``,
  ``method``): ``{"kind": "rate_limit"}`` (403 ``REQUEST_LIMIT_EXCEEDED``), ``{"kind":
  "server_error", "status": 503}``, ``{"kind": "invalid_session"}`` (401
  ``INVALID_SESSION_ID``), ``{"kind": "invalid_field", "field": "X__c"}`` (400
  ``INVALID_FIELD`` on the next writes), ``{"kind": "invalid_grant"}`` (the OAuth login
  refused); ``GET calls``, ``POST reset`` as in every fake.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import os
import re
import secrets
import ssl
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from dealcycle.fakes._http import (
    FakeServer,
    Fault,
    Request,
    Response,
    json_response,
)
from dealcycle.fakes.salesforce_oauth import ConnectedAppFiles, TokenEndpoint, oauth_error
from dealcycle.fakes.tls import TLSFiles, ensure_tls_files
from dealcycle.settings import SalesforceSettings
from schemas.salesforce_fields import SALESFORCE_FIELDS, TEXT_TYPES

DEFAULT_CLIENT_ID = "dealcycle-fake-client-id"
DEFAULT_CLIENT_SECRET = "dealcycle-fake-client-secret"
DEFAULT_USERNAME = "dealcycle-bot@example.com"
DEFAULT_PASSWORD = "dealcycle-fake-password"
DEFAULT_API_LIMIT = 15000
ORG_ID = "00D5g000004FAKEEAG"
USER_ID = "0055g00000FAKEBAAQ"

DATA_PATHS = r"^/services/data/"
"""Default path pattern of the fault helpers: data calls, not the login."""
TOKEN_PATH = r"^/services/oauth2/token$"

SYSTEM_FIELDS = ("Id", "CreatedDate", "LastModifiedDate")


@dataclass(frozen=True)
class SObjectSchema:
    """The fields the fake knows for one sObject type."""

    prefix: str
    """Three-character key prefix of record ids (``006`` Opportunity, ``001`` Account ...)."""
    fields: tuple[str, ...]
    external_ids: tuple[str, ...] = ()
    required: tuple[str, ...] = ()
    """Fields a create must set (``REQUIRED_FIELD_MISSING`` otherwise)."""
    read_only: tuple[str, ...] = ()
    """Fields the API refuses to write (``INVALID_FIELD_FOR_INSERT_UPDATE``)."""
    defaults: Mapping[str, Any] = field(default_factory=dict)
    """Values a create gets when it does not set them (like picklist defaults)."""
    lengths: Mapping[str, int] = field(default_factory=dict)
    """Most characters a text field takes (``STRING_TOO_LONG`` otherwise)."""

    def all_fields(self) -> tuple[str, ...]:
        extra = tuple(f for f in self.fields if f not in SYSTEM_FIELDS)
        return (*SYSTEM_FIELDS, *extra)

    def with_fields(self, more: Iterable[str]) -> SObjectSchema:
        known = {f.lower() for f in self.fields}
        added = tuple(f for f in more if f.lower() not in known)
        return SObjectSchema(
            self.prefix,
            (*self.fields, *added),
            self.external_ids,
            self.required,
            self.read_only,
            self.defaults,
            self.lengths,
        )

    def without_field(self, name: str) -> SObjectSchema:
        return SObjectSchema(
            self.prefix,
            tuple(f for f in self.fields if f.lower() != name.lower()),
            self.external_ids,
            self.required,
            self.read_only,
            self.defaults,
            self.lengths,
        )


def _listed(sobject: str, standard: tuple[str, ...]) -> dict[str, Any]:
    """An object's fields: its standard ones plus every field ``schemas.salesforce_fields``
    lists for it, with the listed lengths and external ids."""
    listed = [f for f in SALESFORCE_FIELDS if f.sobject == sobject]
    names = [*standard, *(f.name for f in listed if f.name not in standard)]
    return {
        "fields": tuple(n for n in names if n not in SYSTEM_FIELDS or n == "LastModifiedDate"),
        "external_ids": tuple(f.name for f in listed if f.external_id),
        "lengths": {
            f.name: f.length for f in listed if f.type in TEXT_TYPES and f.length is not None
        },
    }


DEFAULT_SCHEMAS: dict[str, SObjectSchema] = {
    "Opportunity": SObjectSchema(
        prefix="006",
        **_listed(
            "Opportunity",
            (
                "Name",
                "StageName",
                "Amount",
                "CloseDate",
                "AccountId",
                "Type",
                "IsWon",
                "IsClosed",
                "LastModifiedDate",
            ),
        ),
        required=("Name", "StageName", "CloseDate"),
        read_only=("IsWon", "IsClosed"),
    ),
    "Account": SObjectSchema(
        prefix="001", **_listed("Account", ("Name", "Type")), required=("Name",)
    ),
    "Task": SObjectSchema(
        prefix="00T",
        **_listed(
            "Task",
            ("Subject", "WhatId", "ActivityDate", "Description", "Status", "OwnerId", "Priority"),
        ),
        defaults={"Status": "Not Started", "Priority": "Normal"},
    ),
}

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_ID_SUFFIX = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


def to_18_char_id(record_id: str) -> str:
    """Salesforce's case-safe 18-character form of a 15-character id."""
    if len(record_id) != 15:
        return record_id
    suffix = ""
    for chunk_start in range(0, 15, 5):
        chunk = record_id[chunk_start : chunk_start + 5]
        flags = sum(1 << i for i, ch in enumerate(chunk) if "A" <= ch <= "Z")
        suffix += _ID_SUFFIX[flags]
    return record_id + suffix


def salesforce_datetime(moment: datetime | None = None) -> str:
    """``2026-05-01T12:00:00.000+0000``, the way Salesforce writes datetimes in JSON."""
    moment = (moment or datetime.now(UTC)).astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def _stamp() -> str:
    """Now, as Salesforce stores a system timestamp: to the whole second (``.000``), so many
    records saved in one second share their ``LastModifiedDate``."""
    return salesforce_datetime(datetime.now(UTC).replace(microsecond=0))


def _error(status: int, code: str, message: str, fields: list[str] | None = None) -> Response:
    body: dict[str, Any] = {"message": message, "errorCode": code}
    if fields is not None:
        body["fields"] = fields
    return json_response(status, [body])


def _not_found() -> Response:
    return _error(404, "NOT_FOUND", "The requested resource does not exist")


def rate_limit_fault(count: int = 1, path_pattern: str = DATA_PATHS, method: str = "*") -> Fault:
    body = [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]
    return Fault(method, path_pattern, 403, body, count)


def server_error_fault(
    count: int = 1, path_pattern: str = DATA_PATHS, method: str = "*", status: int = 500
) -> Fault:
    body = [
        {
            "errorCode": "UNKNOWN_EXCEPTION",
            "message": "An unexpected error occurred. Please include this ErrorId if you "
            "contact support: 1234567890-12345 (fake)",
        }
    ]
    return Fault(method, path_pattern, status, body, count)


def invalid_session_fault(
    count: int = 1, path_pattern: str = DATA_PATHS, method: str = "*"
) -> Fault:
    body = [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
    return Fault(method, path_pattern, 401, body, count)


def invalid_field_fault(
    field_name: str, count: int = 1, path_pattern: str = DATA_PATHS, method: str = "PATCH"
) -> Fault:
    body = [
        {
            "message": f"No such column '{field_name}' on sobject",
            "errorCode": "INVALID_FIELD",
            "fields": [field_name],
        }
    ]
    return Fault(method, path_pattern, 400, body, count)


def invalid_grant_fault(count: int = 1) -> Fault:
    body = {"error": "invalid_grant", "error_description": "authentication failure"}
    return Fault("POST", TOKEN_PATH, 400, body, count)


class _FieldError(ValueError):
    """A write Salesforce would refuse; carries the error response."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.body.decode("utf-8"))
        self.response = response


class SalesforceFake(FakeServer):
    """HTTPS fake of the Salesforce REST API.

    ``auto_create_records`` (sandbox mode) lets a PATCH to an unknown record id create it,
    so demos work against an empty org.
    """

    name = "salesforce"
    scheme = "https"

    def __init__(
        self,
        tls: TLSFiles | str | os.PathLike[str],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        client_id: str = DEFAULT_CLIENT_ID,
        client_secret: str = DEFAULT_CLIENT_SECRET,
        username: str = DEFAULT_USERNAME,
        password: str = DEFAULT_PASSWORD,
        auto_create_records: bool = False,
        schemas: Mapping[str, SObjectSchema] | None = None,
        extra_fields: Mapping[str, Iterable[str]] | None = None,
        api_limit: int = DEFAULT_API_LIMIT,
        connected_app: ConnectedAppFiles | None = None,
        audiences: Iterable[str] = (),
        users: Mapping[str, str] | None = None,
        client_credentials_enabled: bool = True,
        default_auth: str | None = None,
        clock_ahead: timedelta = timedelta(),
    ) -> None:
        """``connected_app``: the certificate JWT assertions are checked against (and the key
        ``settings()`` hands out); ``audiences``: the ``aud`` values accepted besides the fake's
        own URL; ``users``: more known users and their passwords; ``client_credentials_enabled``:
        whether the client credentials flow has a run-as user (``username``); ``default_auth``:
        the flow ``settings()`` picks (``jwt`` with a connected app, else ``password``);
        ``clock_ahead``: how far the org's clock runs ahead of the client's."""
        super().__init__(host, port)
        hosts = ["127.0.0.1", "localhost"]
        if host not in (*hosts, "0.0.0.0", "::", ""):
            hosts.append(host)
        self.tls = tls if isinstance(tls, TLSFiles) else ensure_tls_files(tls, hosts)
        self.client_id = client_id
        self.client_secret = client_secret
        self.username = username
        self.password = password
        self.auto_create_records = auto_create_records
        self.api_limit = api_limit
        self.connected_app = connected_app
        self.default_auth = default_auth or ("jwt" if connected_app else "password")
        self.oauth = TokenEndpoint(
            client_id=client_id,
            client_secret=client_secret,
            passwords={username: password, **(users or {})},
            audiences=tuple(audiences),
            certificate=connected_app.cert if connected_app else None,
            run_as_user=username if client_credentials_enabled else None,
            clock_ahead=clock_ahead,
        )
        merged = {**DEFAULT_SCHEMAS, **(schemas or {})}
        for obj, more in (extra_fields or {}).items():
            if obj not in merged:
                raise ValueError(f"extra_fields names unknown sObject {obj!r}; pass it in schemas")
            merged[obj] = merged[obj].with_fields(more)
        self.schemas: dict[str, SObjectSchema] = merged
        self._tokens: set[str] = set()
        self._records: dict[str, dict[str, dict[str, Any]]] = {}
        self._counters: dict[str, int] = {}
        self._api_usage = 0

    def _tls_context(self) -> ssl.SSLContext:
        return self.tls.server_context()

    # public helpers ------------------------------------------------------------------------

    @property
    def login_url(self) -> str:
        return self.url

    @property
    def instance_url(self) -> str:
        return self.url

    @property
    def ca_bundle(self) -> str:
        return str(self.tls.ca)

    def settings(self, api_version: str = "62.0", auth: str | None = None) -> SalesforceSettings:
        """Settings pointing at this fake with its configured credentials, logging in with
        ``auth`` (default: ``default_auth``)."""
        return SalesforceSettings(
            login_url=self.login_url,
            client_id=self.client_id,
            client_secret=self.client_secret,
            username=self.username,
            password=self.password,
            api_version=api_version,
            ca_bundle=self.ca_bundle,
            auth=auth or self.default_auth,
            jwt_key_file=str(self.connected_app.key) if self.connected_app else "",
        )

    @property
    def api_usage(self) -> int:
        with self._lock:
            return self._api_usage

    def expire_sessions(self) -> None:
        """Invalidate every issued access token (the next data call answers 401)."""
        with self._lock:
            self._tokens.clear()

    def records(self, sobject: str) -> list[dict[str, Any]]:
        """Copies of the records of one sObject type, in creation order."""
        with self._lock:
            obj = self._object_name(sobject) or sobject
            return [dict(r) for r in self._records.get(obj, {}).values()]

    def get_record(self, sobject: str, record_id: str) -> dict[str, Any] | None:
        with self._lock:
            obj = self._object_name(sobject) or sobject
            record = self._records.get(obj, {}).get(to_18_char_id(record_id))
            return dict(record) if record else None

    def seed_record(
        self, sobject: str, fields: Mapping[str, Any], record_id: str | None = None
    ) -> str:
        """Store a record directly (not recorded as a call) and return its Id.

        The Id is ``record_id``, else an ``Id`` among the fields, else a new one. System and
        read-only fields such as ``LastModifiedDate`` or ``IsWon`` may be set here, and
        required fields may be left out.
        """
        with self._lock:
            obj = self._object_name(sobject)
            if obj is None:
                raise ValueError(f"unknown sObject {sobject!r}")
            fields = dict(fields)
            given_id = fields.pop("Id", None)
            record_id = record_id or (str(given_id) if given_id else None)
            values = self._canonical_fields(obj, fields, allow_read_only=True)
            rid = to_18_char_id(record_id) if record_id else self._new_id(obj)
            record = self._create(obj, rid, values, derive=True, check_required=False)
            for name in ("CreatedDate", "LastModifiedDate"):
                if name in values:
                    record[name] = values[name]
            return rid

    def add_record(self, sobject: str, fields: Mapping[str, Any]) -> str:
        """``seed_record`` with the Id (if any) among the fields: ``{"Id": "006X", ...}``."""
        return self.seed_record(sobject, fields)

    def rate_limit_next(
        self, count: int = 1, path_pattern: str = DATA_PATHS, method: str = "*"
    ) -> None:
        """Answer the next data calls with 403 REQUEST_LIMIT_EXCEEDED (Salesforce's rate limit)."""
        self._faults.add(rate_limit_fault(count, path_pattern, method))

    def server_error_next(
        self, count: int = 1, path_pattern: str = DATA_PATHS, method: str = "*", status: int = 500
    ) -> None:
        self._faults.add(server_error_fault(count, path_pattern, method, status))

    def invalid_session_next(self, count: int = 1) -> None:
        """401 INVALID_SESSION_ID for the next data calls (without forgetting the sessions)."""
        self._faults.add(invalid_session_fault(count))

    def invalid_grant_next(self, count: int = 1) -> None:
        """The next logins answer 400 ``invalid_grant`` (bad username or password)."""
        self._faults.add(invalid_grant_fault(count))

    def remove_field(self, sobject: str, field_name: str) -> None:
        """The org loses the field: writes (and SOQL) naming it answer ``INVALID_FIELD``."""
        with self._lock:
            obj = self._require_object(sobject)
            self.schemas[obj] = self.schemas[obj].without_field(field_name)

    def restore_field(self, sobject: str, field_name: str) -> None:
        with self._lock:
            obj = self._require_object(sobject)
            self.schemas[obj] = self.schemas[obj].with_fields([field_name])

    def _require_object(self, sobject: str) -> str:
        obj = self._object_name(sobject)
        if obj is None:
            raise ValueError(f"unknown sObject {sobject!r}")
        return obj

    # FakeServer hooks ----------------------------------------------------------------------

    def _reset_state(self) -> None:
        # Issued sessions stay valid: a connected worker keeps working across a reset.
        self._records.clear()
        self._counters.clear()
        self._api_usage = 0

    def _record_body(self, request: Request) -> Any:
        if request.path.startswith("/services/oauth2/"):
            form = {**request.query, **request.form_body()}
            for secret in ("password", "client_secret", "assertion"):
                if secret in form:
                    form[secret] = "***"
            return form
        return super()._record_body(request)

    def _finalize(self, request: Request, response: Response) -> Response:
        if request.path.startswith("/services/data"):
            self._api_usage += 1
        response.headers["Sforce-Limit-Info"] = f"api-usage={self._api_usage}/{self.api_limit}"
        return response

    def _fault_from_spec(self, spec: Mapping[str, Any]) -> Fault:
        """Besides the generic fields, ``{"kind": ..., "count": n}`` with kind
        ``rate_limit``, ``server_error``, ``invalid_session``, ``invalid_field`` (and
        ``field``) or ``invalid_grant``."""
        kind = spec.get("kind")
        if kind is None:
            return super()._fault_from_spec(spec)
        count = int(spec.get("count", 1))
        path = str(spec.get("path", DATA_PATHS))
        method = str(spec.get("method", "*"))
        if kind == "rate_limit":
            return rate_limit_fault(count, path, method)
        if kind == "server_error":
            return server_error_fault(count, path, method, int(spec.get("status", 500)))
        if kind == "invalid_session":
            return invalid_session_fault(count, path, method)
        if kind == "invalid_field":
            return invalid_field_fault(
                str(spec["field"]), count, path, str(spec.get("method", "PATCH"))
            )
        if kind == "invalid_grant":
            return invalid_grant_fault(count)
        raise ValueError(
            f"unknown fault kind {kind!r} (rate_limit, server_error, invalid_session,"
            " invalid_field, invalid_grant)"
        )

    def _control(self, request: Request, parts: list[str]) -> Response | None:
        if len(parts) == 2 and parts[0] == "records":
            if request.method == "GET":
                return json_response(200, self.records(parts[1]))
            if request.method == "POST":
                try:
                    payload = request.json_body()
                    fields = dict(payload.get("fields", payload))
                    rid = self.seed_record(parts[1], fields, payload.get("Id"))
                except (ValueError, AttributeError, TypeError) as exc:
                    return json_response(400, {"ok": False, "error": str(exc)})
                return json_response(201, {"ok": True, "id": rid})
        if parts == ["expire_sessions"] and request.method == "POST":
            self.expire_sessions()
            return json_response(200, {"ok": True})
        if parts == ["fields"] and request.method == "POST":
            try:
                body = request.json_body()
                change = self.restore_field if body.get("present", False) else self.remove_field
                change(str(body["sobject"]), str(body["field"]))
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                return json_response(400, {"ok": False, "error": str(exc)})
            return json_response(200, {"ok": True})
        return None

    # routing -------------------------------------------------------------------------------

    def _serve(self, request: Request) -> Response:
        segments = request.segments
        if segments[:3] == ["services", "oauth2", "token"] and len(segments) == 3:
            if request.method != "POST":
                return oauth_error("invalid_request", "must use HTTP POST")
            return self._token(request)
        if segments[:2] != ["services", "data"]:
            return _not_found()
        if not self._authorized(request):
            return _error(401, "INVALID_SESSION_ID", "Session expired or invalid")
        if len(segments) < 3 or not re.fullmatch(r"v\d+\.\d", segments[2]):
            return _not_found()
        version = segments[2]
        rest = segments[3:]
        if rest in (["query"], ["queryAll"]) and request.method == "GET":
            return self._query(request.query.get("q", ""), version)
        if rest == ["limits"] and request.method == "GET":
            remaining = self.api_limit - self._api_usage
            return json_response(
                200, {"DailyApiRequests": {"Max": self.api_limit, "Remaining": remaining}}
            )
        if rest and rest[0] == "sobjects":
            return self._sobjects(request, rest[1:], version)
        return _not_found()

    def _authorized(self, request: Request) -> bool:
        scheme, _, token = request.header("authorization").partition(" ")
        return scheme.lower() in ("bearer", "oauth") and token.strip() in self._tokens

    def _token(self, request: Request) -> Response:
        form = {**request.query, **request.form_body()}
        # The fake's own URL is its login URL and its My Domain: an assertion's audience.
        granted = self.oauth.grant(form, login_url=self.login_url)
        if isinstance(granted, Response):
            return granted
        token = f"{ORG_ID[:15]}!{secrets.token_urlsafe(32)}"
        self._tokens.add(token)
        issued_at = str(int(time.time() * 1000))
        identity = f"{self.url}/id/{ORG_ID}/{USER_ID}"
        signature = base64.b64encode(
            hmac.new(
                self.client_secret.encode(), (identity + issued_at).encode(), hashlib.sha256
            ).digest()
        ).decode()
        return json_response(
            200,
            {
                "access_token": token,
                "instance_url": self.url,
                "id": identity,
                "token_type": "Bearer",
                "issued_at": issued_at,
                "signature": signature,
            },
        )

    def _sobjects(self, request: Request, rest: list[str], version: str) -> Response:
        method = request.method
        if not rest:
            if method != "GET":
                return _not_found()
            return json_response(
                200,
                {
                    "encoding": "UTF-8",
                    "sobjects": [
                        {"name": n, "keyPrefix": s.prefix} for n, s in self.schemas.items()
                    ],
                },
            )
        obj = self._object_name(rest[0])
        if obj is None:
            return _not_found()
        if len(rest) == 1:
            if method == "POST":
                return self._create_request(request, obj)
            if method == "GET":
                return json_response(
                    200, {"objectDescribe": {"name": obj, "keyPrefix": self.schemas[obj].prefix}}
                )
            return _not_found()
        if len(rest) == 2 and rest[1] == "describe" and method == "GET":
            schema = self.schemas[obj]
            return json_response(
                200,
                {
                    "name": obj,
                    "keyPrefix": schema.prefix,
                    "fields": [
                        {"name": f, "externalId": f in schema.external_ids}
                        for f in schema.all_fields()
                    ],
                },
            )
        if len(rest) == 2:
            record_id = to_18_char_id(rest[1])
            if method == "GET":
                return self._read(obj, record_id, request.query.get("fields"), version)
            if method == "PATCH":
                return self._update_request(request, obj, record_id)
            if method == "DELETE":
                if self._records.get(obj, {}).pop(record_id, None) is None:
                    return _not_found()
                return Response(204)
            return _not_found()
        if len(rest) == 3:
            return self._by_external_id(request, obj, rest[1], rest[2], version)
        return _not_found()

    # sObject operations --------------------------------------------------------------------

    def _object_name(self, name: str) -> str | None:
        for known in self.schemas:
            if known.lower() == name.lower():
                return known
        return None

    def _field_name(self, obj: str, name: str) -> str | None:
        for known in self.schemas[obj].all_fields():
            if known.lower() == name.lower():
                return known
        return None

    def _canonical_fields(
        self, obj: str, values: Mapping[str, Any], allow_read_only: bool = False
    ) -> dict[str, Any]:
        schema = self.schemas[obj]
        result: dict[str, Any] = {}
        for raw_name, value in values.items():
            name = self._field_name(obj, str(raw_name))
            if name is None:
                raise _FieldError(
                    _error(
                        400,
                        "INVALID_FIELD",
                        f"No such column '{raw_name}' on sobject of type {obj}",
                    )
                )
            if not allow_read_only and (name in SYSTEM_FIELDS or name in schema.read_only):
                raise _FieldError(
                    _error(
                        400,
                        "INVALID_FIELD_FOR_INSERT_UPDATE",
                        f"Unable to create/update fields: {name}. Please check the security "
                        "settings of this field and verify that it is read/write for your "
                        "profile or permission set.",
                        [name],
                    )
                )
            if not isinstance(value, str | int | float | bool) and value is not None:
                raise _FieldError(
                    _error(
                        400,
                        "JSON_PARSER_ERROR",
                        f"Cannot deserialize instance of {name} from a JSON object or array",
                    )
                )
            limit = schema.lengths.get(name)
            if isinstance(value, str) and limit is not None and len(value) > limit:
                raise _FieldError(
                    _error(
                        400,
                        "STRING_TOO_LONG",
                        f"{name}: data value too large: {value[:40]}... (max length={limit})",
                        [name],
                    )
                )
            result[name] = value
        return result

    def _body_fields(self, request: Request, obj: str) -> dict[str, Any]:
        try:
            payload = request.json_body()
        except ValueError:
            raise _FieldError(
                _error(400, "JSON_PARSER_ERROR", "Unexpected character in the request body")
            ) from None
        if payload is None:
            payload = {}
        if not isinstance(payload, dict):
            raise _FieldError(
                _error(400, "JSON_PARSER_ERROR", "The request body must be a JSON object")
            )
        payload.pop("attributes", None)
        return self._canonical_fields(obj, payload)

    def _new_id(self, obj: str) -> str:
        self._counters[obj] = self._counters.get(obj, 0) + 1
        number, digits = self._counters[obj], ""
        while number:
            number, rem = divmod(number, 62)
            digits = _BASE62[rem] + digits
        # prefix + pod "5g" + reserved "0" + 9-character base-62 counter = 15 characters
        return to_18_char_id(f"{self.schemas[obj].prefix}5g0{digits.rjust(9, '0')}")

    def _check_unique(self, obj: str, record_id: str, values: Mapping[str, Any]) -> None:
        for ext in self.schemas[obj].external_ids:
            value = values.get(ext)
            if value is None:
                continue
            for other_id, other in self._records.get(obj, {}).items():
                if other_id != record_id and other.get(ext) == value:
                    raise _FieldError(
                        _error(
                            400,
                            "DUPLICATE_VALUE",
                            f"duplicate value found: {ext} duplicates value on record with id: "
                            f"{other_id}",
                            [ext],
                        )
                    )

    @staticmethod
    def _derive(obj: str, record: dict[str, Any]) -> None:
        # IsWon/IsClosed are read-only in Salesforce and follow the stage.
        if obj == "Opportunity" and record.get("StageName") is not None:
            stage = str(record.get("StageName") or "")
            record["IsClosed"] = stage in ("Closed Won", "Closed Lost")
            record["IsWon"] = stage == "Closed Won"

    def _create(
        self,
        obj: str,
        record_id: str,
        values: Mapping[str, Any],
        *,
        derive: bool = True,
        check_required: bool = True,
    ) -> dict[str, Any]:
        schema = self.schemas[obj]
        if check_required:
            missing = [f for f in schema.required if values.get(f) in (None, "")]
            if missing:
                raise _FieldError(
                    _error(
                        400,
                        "REQUIRED_FIELD_MISSING",
                        f"Required fields are missing: [{', '.join(missing)}]",
                        missing,
                    )
                )
        self._check_unique(obj, record_id, values)
        now = _stamp()
        record: dict[str, Any] = {name: None for name in schema.all_fields()}
        record.update(schema.defaults)
        record.update(values)
        record.update({"Id": record_id, "CreatedDate": now, "LastModifiedDate": now})
        if derive and not ({"IsWon", "IsClosed"} & set(values)):
            self._derive(obj, record)
        self._records.setdefault(obj, {})[record_id] = record
        return record

    def _update(self, obj: str, record: dict[str, Any], values: Mapping[str, Any]) -> None:
        self._check_unique(obj, record["Id"], values)
        record.update(values)
        if "StageName" in values:
            self._derive(obj, record)
        record["LastModifiedDate"] = _stamp()

    def _create_request(self, request: Request, obj: str) -> Response:
        try:
            values = self._body_fields(request, obj)
            record = self._create(obj, self._new_id(obj), values)
        except _FieldError as exc:
            return exc.response
        return json_response(201, {"id": record["Id"], "success": True, "errors": []})

    def _update_request(self, request: Request, obj: str, record_id: str) -> Response:
        try:
            values = self._body_fields(request, obj)
            record = self._records.get(obj, {}).get(record_id)
            if record is None:
                if not self.auto_create_records:
                    return _not_found()
                self._create(obj, record_id, values, check_required=False)
            else:
                self._update(obj, record, values)
        except _FieldError as exc:
            return exc.response
        return Response(204)

    def _read(self, obj: str, record_id: str, fields: str | None, version: str) -> Response:
        record = self._records.get(obj, {}).get(record_id)
        if record is None:
            return _not_found()
        try:
            names = self._select(obj, fields.split(",")) if fields else list(record)
        except _FieldError as exc:
            return exc.response
        return json_response(200, self._render(obj, record, names, version))

    def _by_external_id(
        self, request: Request, obj: str, field_name: str, value: str, version: str
    ) -> Response:
        ext = self._field_name(obj, field_name)
        if ext is None or ext not in self.schemas[obj].external_ids:
            return _error(
                404,
                "NOT_FOUND",
                f"Provided external ID field does not exist or is not accessible: {field_name}",
            )
        matches = [r for r in self._records.get(obj, {}).values() if r.get(ext) == value]
        if request.method == "GET":
            if not matches:
                return _not_found()
            return json_response(200, self._render(obj, matches[0], list(matches[0]), version))
        if request.method != "PATCH":
            return _not_found()
        try:
            values = self._body_fields(request, obj)
            values[ext] = value
            if matches:
                self._update(obj, matches[0], values)
                rid, status, created = matches[0]["Id"], 200, False
            else:
                rid, status, created = self._new_id(obj), 201, True
                self._create(obj, rid, values)
        except _FieldError as exc:
            return exc.response
        return json_response(status, {"id": rid, "success": True, "errors": [], "created": created})

    @staticmethod
    def _render(
        obj: str, record: Mapping[str, Any], names: Iterable[str], version: str
    ) -> dict[str, Any]:
        rendered: dict[str, Any] = {
            "attributes": {
                "type": obj,
                "url": f"/services/data/{version}/sobjects/{obj}/{record['Id']}",
            }
        }
        for name in names:
            rendered[name] = record.get(name)
        return rendered

    def _select(self, obj: str, names: Iterable[str]) -> list[str]:
        selected: list[str] = []
        for raw in names:
            name = self._field_name(obj, raw.strip())
            if name is None:
                raise _FieldError(
                    _error(
                        400, "INVALID_FIELD", f"No such column '{raw.strip()}' on entity '{obj}'."
                    )
                )
            selected.append(name)
        return selected

    # SOQL ----------------------------------------------------------------------------------

    def _query(self, soql: str, version: str) -> Response:
        try:
            parsed = parse_soql(soql)
        except SoqlError as exc:
            return _error(400, "MALFORMED_QUERY", str(exc))
        obj = self._object_name(parsed.sobject)
        if obj is None:
            return _error(400, "INVALID_TYPE", f"sObject type '{parsed.sobject}' is not supported.")
        try:
            own = [name for name in parsed.fields if "." not in name]
            fields = self._select(obj, own)
            related = [self._related_field(obj, name) for name in parsed.fields if "." in name]
            where = self._resolve(obj, parsed.where)
            order = [
                SoqlOrder(self._select(obj, [item.field])[0], item.descending, item.nulls_last)
                for item in parsed.order
            ]
        except _FieldError as exc:
            return exc.response
        rows = [
            r for r in self._records.get(obj, {}).values() if where is None or _matches(r, where)
        ]
        # Least significant key first: each sort is stable, so earlier keys win ties.
        for item in reversed(order):
            present = [r for r in rows if r.get(item.field) is not None]
            nulls = [r for r in rows if r.get(item.field) is None]
            present.sort(key=functools.partial(_row_key, item.field), reverse=item.descending)
            # Salesforce puts nulls first in ascending order and last in descending order.
            last = item.descending if item.nulls_last is None else item.nulls_last
            rows = present + nulls if last else nulls + present
        if parsed.limit is not None:
            rows = rows[: parsed.limit]
        records = [self._render(obj, r, fields, version) for r in rows]
        for record, row in zip(records, rows, strict=True):
            for relationship, lookup, target, name in related:
                parent = self._records.get(target, {}).get(str(row.get(lookup) or ""))
                if parent is None:
                    # Salesforce answers null for the relationship when the lookup is empty.
                    record[relationship] = None
                    continue
                nested = record.get(relationship) or self._render(target, parent, [], version)
                nested[name] = parent.get(name)
                record[relationship] = nested
        return json_response(200, {"totalSize": len(records), "done": True, "records": records})

    def _resolve(self, obj: str, where: SoqlExpression | None) -> SoqlExpression | None:
        """``where`` with each field named as the org spells it (INVALID_FIELD otherwise)."""
        if where is None:
            return None
        if isinstance(where, SoqlCondition):
            return SoqlCondition(self._select(obj, [where.field])[0], where.op, where.value)
        if isinstance(where, SoqlNot):
            return SoqlNot(self._resolve(obj, where.operand) or where.operand)
        return SoqlLogic(where.op, tuple(self._resolve(obj, o) or o for o in where.operands))

    def _related_field(self, obj: str, dotted: str) -> tuple[str, str, str, str]:
        """``Account.Name`` on Opportunity: (relationship, lookup field, parent sObject,
        parent field), the way SOQL follows a standard lookup (``AccountId``) one level up."""
        relationship, _, name = dotted.partition(".")
        lookup = self._field_name(obj, f"{relationship}Id")
        target = self._object_name(relationship)
        if lookup is None or target is None or "." in name:
            raise _FieldError(
                _error(
                    400,
                    "INVALID_FIELD",
                    f"Didn't understand relationship '{relationship}' in field path"
                    f" '{dotted}' on entity '{obj}'.",
                )
            )
        return target, lookup, target, self._select(target, [name])[0]


class SoqlError(ValueError):
    pass


Op = Literal["=", "!=", "<", "<=", ">", ">="]


@dataclass(frozen=True)
class SoqlCondition:
    field: str
    op: Op
    value: Any
    """``str``, ``bool``, ``None``, ``float``, ``datetime`` or ``date``."""


@dataclass(frozen=True)
class SoqlLogic:
    """``a AND b AND ...`` or ``a OR b OR ...`` (SOQL wants parentheses to mix them)."""

    op: Literal["AND", "OR"]
    operands: tuple[SoqlExpression, ...]


@dataclass(frozen=True)
class SoqlNot:
    operand: SoqlExpression


SoqlExpression = SoqlCondition | SoqlLogic | SoqlNot


@dataclass(frozen=True)
class SoqlOrder:
    field: str
    descending: bool = False
    nulls_last: bool | None = None
    """None: Salesforce's default (nulls first ascending, last descending)."""


@dataclass(frozen=True)
class SoqlQuery:
    fields: tuple[str, ...]
    sobject: str
    where: SoqlExpression | None = None
    order: tuple[SoqlOrder, ...] = ()
    limit: int | None = None

    @property
    def conditions(self) -> tuple[SoqlCondition, ...]:
        """The comparisons of a WHERE made of ANDs alone (empty otherwise)."""
        if isinstance(self.where, SoqlCondition):
            return (self.where,)
        if isinstance(self.where, SoqlLogic) and self.where.op == "AND":
            if all(isinstance(o, SoqlCondition) for o in self.where.operands):
                return tuple(o for o in self.where.operands if isinstance(o, SoqlCondition))
        return ()

    @property
    def order_by(self) -> str | None:
        return self.order[0].field if self.order else None

    @property
    def descending(self) -> bool:
        return bool(self.order) and self.order[0].descending


_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>'(?:[^'\\]|\\.)*')
      | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2}))
      | (?P<date>\d{4}-\d{2}-\d{2})
      | (?P<number>-?\d+(?:\.\d+)?)
      | (?P<op><=|>=|!=|<>|=|<|>)
      | (?P<comma>,)
      | (?P<paren>[()])
      | (?P<ident>[A-Za-z_][A-Za-z0-9_.]*)
    )""",
    re.VERBOSE,
)


def _tokens(soql: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    text = soql.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise SoqlError(f"unexpected token at position {pos}: {text[pos : pos + 20]!r}")
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        pos = match.end()
    return tokens


def _parse_datetime(raw: str) -> datetime:
    text = raw.replace("Z", "+00:00")
    text = re.sub(r"([+-]\d{2})(\d{2})$", r"\1:\2", text)
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class _Parser:
    """Recursive descent over the tokens of one query."""

    def __init__(self, soql: str) -> None:
        self.tokens = _tokens(soql)
        self.pos = 0

    def _found(self) -> str:
        return self.tokens[self.pos][1] if self.pos < len(self.tokens) else "end of query"

    def peek_keyword(self, *words: str) -> bool:
        return (
            self.pos < len(self.tokens)
            and self.tokens[self.pos][0] == "ident"
            and self.tokens[self.pos][1].upper() in words
        )

    def peek(self, kind: str, text: str) -> bool:
        return self.pos < len(self.tokens) and self.tokens[self.pos] == (kind, text)

    def take(self, kind: str, what: str) -> str:
        if self.pos >= len(self.tokens) or self.tokens[self.pos][0] != kind:
            raise SoqlError(f"expected {what}, found {self._found()!r}")
        self.pos += 1
        return self.tokens[self.pos - 1][1]

    def keyword(self, word: str) -> None:
        if not self.peek_keyword(word):
            raise SoqlError(f"expected {word}, found {self._found()!r}")
        self.pos += 1

    def expression(self) -> SoqlExpression:
        """``factor ((AND factor)* | (OR factor)*)``: SOQL refuses ``a AND b OR c``."""
        first = self.factor()
        if not self.peek_keyword("AND", "OR"):
            return first
        op = self.tokens[self.pos][1].upper()
        operands = [first]
        while self.peek_keyword("AND", "OR"):
            if self.tokens[self.pos][1].upper() != op:
                raise SoqlError(
                    f"unexpected token: {self.tokens[self.pos][1]!r} (AND and OR need"
                    " parentheses to be mixed)"
                )
            self.pos += 1
            operands.append(self.factor())
        return SoqlLogic("AND" if op == "AND" else "OR", tuple(operands))

    def factor(self) -> SoqlExpression:
        if self.peek_keyword("NOT"):
            self.pos += 1
            return SoqlNot(self.factor())
        if self.peek("paren", "("):
            self.pos += 1
            inner = self.expression()
            if not self.peek("paren", ")"):
                raise SoqlError(f"expected ')', found {self._found()!r}")
            self.pos += 1
            return inner
        return self.comparison()

    def comparison(self) -> SoqlCondition:
        field_name = self.take("ident", "a field name")
        op = self.take("op", "a comparison operator")
        if self.pos >= len(self.tokens):
            raise SoqlError("expected a value, found end of query")
        kind, raw = self.tokens[self.pos]
        self.pos += 1
        value: Any
        if kind == "string":
            value = re.sub(r"\\(.)", r"\1", raw[1:-1])
        elif kind == "number":
            value = float(raw)
        elif kind == "datetime":
            value = _parse_datetime(raw)
        elif kind == "date":
            value = date.fromisoformat(raw)
        elif kind == "ident" and raw.lower() in ("true", "false"):
            value = raw.lower() == "true"
        elif kind == "ident" and raw.lower() == "null":
            value = None
        else:
            raise SoqlError(f"unsupported value {raw!r}")
        norm_op: Op = "!=" if op == "<>" else op  # type: ignore[assignment]
        if isinstance(value, bool | None) and norm_op not in ("=", "!="):
            raise SoqlError(f"operator {op} cannot compare with {raw}")
        return SoqlCondition(field_name, norm_op, value)

    def order(self) -> tuple[SoqlOrder, ...]:
        items: list[SoqlOrder] = []
        while True:
            name = self.take("ident", "a field name")
            descending = False
            if self.peek_keyword("ASC", "DESC"):
                descending = self.tokens[self.pos][1].upper() == "DESC"
                self.pos += 1
            nulls_last: bool | None = None
            if self.peek_keyword("NULLS"):
                self.pos += 1
                if not self.peek_keyword("FIRST", "LAST"):
                    raise SoqlError(f"expected FIRST or LAST, found {self._found()!r}")
                nulls_last = self.tokens[self.pos][1].upper() == "LAST"
                self.pos += 1
            items.append(SoqlOrder(name, descending, nulls_last))
            if not (self.pos < len(self.tokens) and self.tokens[self.pos][0] == "comma"):
                return tuple(items)
            self.pos += 1


def parse_soql(soql: str) -> SoqlQuery:
    """Parse the subset ``SELECT f, ... FROM Obj [WHERE expr] [ORDER BY f [ASC|DESC]
    [NULLS FIRST|LAST], ...] [LIMIT n]``, where ``expr`` joins comparisons with AND, OR, NOT
    and parentheses; anything else raises ``SoqlError``."""
    parser = _Parser(soql)
    parser.keyword("SELECT")
    fields = [parser.take("ident", "a field name")]
    while parser.pos < len(parser.tokens) and parser.tokens[parser.pos][0] == "comma":
        parser.pos += 1
        fields.append(parser.take("ident", "a field name"))
    parser.keyword("FROM")
    sobject = parser.take("ident", "an sObject name")
    where: SoqlExpression | None = None
    if parser.peek_keyword("WHERE"):
        parser.pos += 1
        where = parser.expression()
    order: tuple[SoqlOrder, ...] = ()
    if parser.peek_keyword("ORDER"):
        parser.pos += 1
        parser.keyword("BY")
        order = parser.order()
    limit: int | None = None
    if parser.peek_keyword("LIMIT"):
        parser.pos += 1
        raw_limit = parser.take("number", "a number")
        if not raw_limit.isdigit():
            raise SoqlError(f"LIMIT must be a whole number, not {raw_limit}")
        limit = int(raw_limit)
    if parser.pos != len(parser.tokens):
        raise SoqlError(f"unexpected token {parser.tokens[parser.pos][1]!r}")
    return SoqlQuery(tuple(fields), sobject, where, order, limit)


def _as_datetime(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
                return datetime.fromisoformat(value).replace(tzinfo=UTC)
            return _parse_datetime(value)
        except ValueError:
            return None
    return None


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: bool(a == b),
    "!=": lambda a, b: bool(a != b),
    "<": lambda a, b: bool(a < b),
    "<=": lambda a, b: bool(a <= b),
    ">": lambda a, b: bool(a > b),
    ">=": lambda a, b: bool(a >= b),
}


def _is_id(field_name: str) -> bool:
    """``Id`` and the standard lookups (``AccountId``, ``WhatId``): ids compare and sort
    case-sensitively (``006...a`` and ``006...A`` are two records), unlike text."""
    return field_name == "Id" or (field_name.endswith("Id") and "__" not in field_name)


def _matches(record: Mapping[str, Any], where: SoqlExpression) -> bool:
    if isinstance(where, SoqlNot):
        return not _matches(record, where.operand)
    if isinstance(where, SoqlLogic):
        results = (_matches(record, operand) for operand in where.operands)
        return all(results) if where.op == "AND" else any(results)
    return _compare(record.get(where.field), where.op, where.value, _is_id(where.field))


def _compare(actual: Any, op: Op, expected: Any, is_id: bool = False) -> bool:
    if expected is None:
        return (actual is None) == (op == "=")
    if isinstance(expected, bool):
        return (actual is expected) == (op == "=")
    left: Any
    right: Any
    if isinstance(expected, datetime):
        left, right = _as_datetime(actual), expected
    elif isinstance(expected, date):
        moment = _as_datetime(actual)
        left, right = (moment.date() if moment else None), expected
    elif isinstance(expected, float):
        left, right = _as_number(actual), expected
    elif is_id:
        # A 15-character literal names the same record as its 18-character form.
        left = actual if isinstance(actual, str) else None
        right = to_18_char_id(str(expected))
    else:
        # SOQL compares text case-insensitively.
        left = actual.lower() if isinstance(actual, str) else None
        right = str(expected).lower()
    if left is None:
        return op == "!="
    return _ORDER[op](left, right)


def _row_key(field_name: str, row: Mapping[str, Any]) -> tuple[int, Any]:
    return _sort_key(field_name, row[field_name])


def _sort_key(field_name: str, value: Any) -> tuple[int, Any]:
    if _is_id(field_name) and isinstance(value, str):
        return (3, value)  # base 62 digits 0-9A-Za-z sort as their ASCII codes
    if isinstance(value, bool):
        return (0, int(value))
    number = _as_number(value)
    if number is not None and not isinstance(value, str):
        return (1, number)
    moment = _as_datetime(value) if isinstance(value, str) else None
    if moment is not None:
        return (2, moment)
    return (3, str(value).lower())
