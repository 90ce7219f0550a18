"""The license signer, its key files and the ``license`` commands."""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import re
import stat
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from dealcycle.licensing import (
    InvalidLicenseKey,
    LicensePayload,
    LicenseSigner,
    ensure_signing_key,
    generate_signing_key,
    load_private_key,
    load_public_key,
    public_key_fingerprint,
    verify_license_key,
)
from dealcycle.settings import Settings
from starter.license_commands import add_license_commands

ISSUED = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
REPO = Path(__file__).resolve().parent.parent


def _payload(**changes: object) -> LicensePayload:
    fields: dict[str, object] = {
        "key_id": "7d1e2c44-0d9f-5b7a-9b1c-1f0e6a5e2b11",
        "account": "001ACME",
        "customer": "Acme Café",
        "kind": "trial",
        "seats": 25,
        "issued": ISSUED,
        "expires": ISSUED + timedelta(days=30),
    }
    fields.update(changes)
    return LicensePayload(**fields)  # type: ignore[arg-type]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _document(**changes: object) -> dict[str, object]:
    document: dict[str, object] = json.loads(_payload().to_json_bytes())
    document.update(changes)
    return document


def _forge(payload: bytes | dict[str, object], signature: bytes = b"\0" * 64) -> str:
    """A key in the right shape but not signed by anyone, to reach the payload checks."""
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return f"DC1.{_b64(raw)}.{_b64(signature)}"


@pytest.fixture
def signer() -> LicenseSigner:
    return LicenseSigner(Ed25519PrivateKey.generate())


# --- signing and verifying -------------------------------------------------------------------


def test_sign_then_verify_returns_the_payload(signer: LicenseSigner) -> None:
    payload = _payload()
    key = signer.sign(payload)

    assert verify_license_key(key, signer.public_key) == payload
    prefix, body, signature = key.split(".")
    assert prefix == "DC1"
    assert "=" not in key
    assert len(base64.urlsafe_b64decode(signature + "==")) == 64
    assert json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))["seats"] == 25


def test_surrounding_whitespace_is_ignored(signer: LicenseSigner) -> None:
    key = signer.sign(_payload())

    assert verify_license_key(f"  {key}\n", signer.public_key).key_id == _payload().key_id


def test_payload_is_canonical_whatever_the_time_zone() -> None:
    berlin = timezone(timedelta(hours=1))
    local = _payload(
        issued=ISSUED.astimezone(berlin), expires=ISSUED.astimezone(berlin) + timedelta(days=1)
    )
    utc = _payload(expires=ISSUED + timedelta(days=1))

    assert local.to_json_bytes() == utc.to_json_bytes()
    assert local.issued.tzinfo == UTC
    assert b'"issued":"2026-03-01T12:00:00Z"' in utc.to_json_bytes()


def test_tampered_payload_is_rejected(signer: LicenseSigner) -> None:
    _, body, signature = signer.sign(_payload()).split(".")
    document = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    document["seats"] = 2500
    tampered = f"DC1.{_b64(json.dumps(document).encode())}.{signature}"

    with pytest.raises(InvalidLicenseKey, match="signature does not match the signing key"):
        verify_license_key(tampered, signer.public_key)


def test_tampered_signature_is_rejected(signer: LicenseSigner) -> None:
    prefix, body, signature = signer.sign(_payload()).split(".")
    flipped = ("B" if signature[0] == "A" else "A") + signature[1:]

    with pytest.raises(InvalidLicenseKey, match="signature does not match the signing key"):
        verify_license_key(f"{prefix}.{body}.{flipped}", signer.public_key)


def test_key_signed_by_another_key_is_rejected(signer: LicenseSigner) -> None:
    other = LicenseSigner(Ed25519PrivateKey.generate())

    with pytest.raises(InvalidLicenseKey, match="signature does not match the signing key"):
        verify_license_key(other.sign(_payload()), signer.public_key)


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("", "the license key is empty"),
        ("   \n", "the license key is empty"),
        ("DC2.abc.def", "must start with DC1."),
        ("eyJhIjoxfQ", "must start with DC1."),
        ("DC1.abc", "expected DC1.<payload>.<signature>, found 2"),
        ("DC1.a.b.c", "found 4"),
        ("DC1.pay+load.AAAA", "payload is not valid base64url"),
        ("DC1.abcde.AAAA", "payload is not valid base64url"),
        (f"DC1.{_b64(b'{}')}.sig!", "signature is not valid base64url"),
        (f"DC1.{_b64(b'{}')}.{_b64(bytes(10))}", "signature has 10 bytes, not 64"),
        (_forge(b"\xff\xfe not json"), "payload is not valid JSON"),
        (_forge(b"{seats: 3}"), "payload is not valid JSON"),
        (_forge(b"[1, 2]"), "payload is not a JSON object"),
        (
            _forge({k: v for k, v in _document().items() if k not in ("seats", "expires")}),
            "missing fields: seats, expires",
        ),
        (_forge(_document(plan="gold")), "unexpected fields: plan"),
        (_forge(_document(kind="enterprise")), "kind must be one of trial, full"),
        (_forge(_document(seats=0)), "seats must be a whole number of at least 1"),
        (_forge(_document(seats="25")), "seats must be a whole number"),
        (_forge(_document(customer="")), "customer must be a non-empty string"),
        (_forge(_document(issued="yesterday")), "issued is not an ISO 8601 timestamp"),
        (_forge(_document(expires="2026-04-01T00:00:00")), "expires has no time zone"),
        (_forge(_document(expires=1775001600)), "expires is not a timestamp string"),
        (_forge(_document(expires="2026-02-01T00:00:00Z")), "expires must be after issued"),
        ("DC1." + "A" * 9000 + ".AAAA", "too long"),
    ],
)
def test_malformed_keys_are_rejected_with_a_message_naming_the_problem(
    signer: LicenseSigner, key: str, message: str
) -> None:
    with pytest.raises(InvalidLicenseKey, match=re.escape(message)):
        verify_license_key(key, signer.public_key)


def test_invalid_license_key_is_a_value_error() -> None:
    assert issubclass(InvalidLicenseKey, ValueError)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"kind": "gold"}, "kind must be one of trial, full"),
        ({"seats": 0}, "seats must be a whole number of at least 1"),
        ({"seats": True}, "seats must be a whole number"),
        ({"issued": datetime(2026, 3, 1)}, "issued must be a timezone-aware datetime"),
        ({"expires": ISSUED}, "expires must be after issued"),
        ({"key_id": ""}, "key_id must be a non-empty string"),
    ],
)
def test_signer_refuses_to_build_an_invalid_payload(
    changes: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        _payload(**changes)


def test_is_expired_at_and_after_the_expiry() -> None:
    payload = _payload()

    assert not payload.is_expired(payload.expires - timedelta(seconds=1))
    assert payload.is_expired(payload.expires)
    assert payload.is_expired(payload.expires + timedelta(days=1))
    with pytest.raises(ValueError, match="timezone-aware"):
        payload.is_expired(datetime(2026, 3, 2))


# --- key files --------------------------------------------------------------------------------


def _pem_body(private_path: Path) -> str:
    """The base64 of the private key, as it would appear if anything leaked the PEM."""
    lines = private_path.read_text().splitlines()
    return "".join(line for line in lines if not line.startswith("-----"))


def test_generate_writes_a_private_key_only_its_owner_can_read(tmp_path: Path) -> None:
    private_path, public_path = tmp_path / "keys" / "signing.pem", tmp_path / "keys" / "signing.pub"

    public_key = generate_signing_key(private_path, public_path)

    assert stat.S_IMODE(private_path.stat().st_mode) == 0o600
    assert private_path.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    assert public_key_fingerprint(load_public_key(public_path)) == public_key_fingerprint(
        public_key
    )
    assert public_key_fingerprint(load_private_key(private_path).public_key()) == (
        public_key_fingerprint(public_key)
    )
    assert [p.name for p in private_path.parent.iterdir() if p.name.startswith(".tmp")] == []


def test_generate_refuses_to_overwrite_an_existing_key(tmp_path: Path) -> None:
    private_path, public_path = tmp_path / "signing.pem", tmp_path / "signing.pub"
    generate_signing_key(private_path, public_path)
    before = private_path.read_bytes(), public_path.read_bytes()

    with pytest.raises(FileExistsError, match="refusing to replace the license signing key"):
        generate_signing_key(private_path, public_path)

    assert (private_path.read_bytes(), public_path.read_bytes()) == before


def test_generate_with_overwrite_replaces_the_key(tmp_path: Path) -> None:
    private_path, public_path = tmp_path / "signing.pem", tmp_path / "signing.pub"
    first = generate_signing_key(private_path, public_path)

    second = generate_signing_key(private_path, public_path, overwrite=True)

    assert public_key_fingerprint(second) != public_key_fingerprint(first)
    assert public_key_fingerprint(load_public_key(public_path)) == public_key_fingerprint(second)
    assert stat.S_IMODE(private_path.stat().st_mode) == 0o600


def test_loading_the_wrong_kind_of_file_names_the_file_not_its_content(tmp_path: Path) -> None:
    private_path, public_path = tmp_path / "signing.pem", tmp_path / "signing.pub"
    generate_signing_key(private_path, public_path)
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n-----END PRIVATE KEY-----\n")

    with pytest.raises(ValueError, match="is not an unencrypted PEM private key") as bad:
        load_private_key(garbage)
    with pytest.raises(ValueError, match="is not an unencrypted PEM private key"):
        load_private_key(public_path)
    with pytest.raises(ValueError, match="is not a PEM public key"):
        load_public_key(private_path)

    assert "c2VjcmV0" not in str(bad.value)
    assert bad.value.__cause__ is None


def test_ensure_creates_a_key_once_and_then_reuses_it(tmp_path: Path) -> None:
    private_path, public_path = (
        tmp_path / "state" / "signing.pem",
        tmp_path / "state" / "signing.pub",
    )

    first = ensure_signing_key(private_path, public_path)
    second = ensure_signing_key(private_path, public_path)

    assert public_key_fingerprint(first) == public_key_fingerprint(second)
    assert stat.S_IMODE(private_path.stat().st_mode) == 0o600


def test_ensure_restores_a_missing_public_key_from_the_private_key(tmp_path: Path) -> None:
    private_path, public_path = tmp_path / "signing.pem", tmp_path / "signing.pub"
    created = ensure_signing_key(private_path, public_path)
    public_path.unlink()

    restored = ensure_signing_key(private_path, public_path)

    assert public_key_fingerprint(restored) == public_key_fingerprint(created)
    assert public_key_fingerprint(load_public_key(public_path)) == public_key_fingerprint(created)


def test_ensure_rejects_a_public_key_of_another_pair(tmp_path: Path) -> None:
    private_path, public_path = tmp_path / "signing.pem", tmp_path / "signing.pub"
    ensure_signing_key(private_path, public_path)
    generate_signing_key(tmp_path / "other.pem", public_path, overwrite=True)

    with pytest.raises(ValueError, match="does not belong to the private key"):
        ensure_signing_key(private_path, public_path)


def test_ensure_will_not_create_a_pair_next_to_an_orphan_public_key(tmp_path: Path) -> None:
    private_path, public_path = tmp_path / "signing.pem", tmp_path / "signing.pub"
    generate_signing_key(tmp_path / "elsewhere.pem", public_path)

    with pytest.raises(FileExistsError, match="refusing to create a new key pair"):
        ensure_signing_key(private_path, public_path)

    assert not private_path.exists()


def test_concurrent_ensure_calls_agree_on_one_key(tmp_path: Path) -> None:
    private_path, public_path = tmp_path / "signing.pem", tmp_path / "signing.pub"

    with ThreadPoolExecutor(max_workers=8) as pool:
        keys = list(pool.map(lambda _: ensure_signing_key(private_path, public_path), range(16)))

    assert len({public_key_fingerprint(key) for key in keys}) == 1
    assert public_key_fingerprint(load_public_key(public_path)) == public_key_fingerprint(keys[0])


def test_signer_repr_shows_the_fingerprint_not_the_key(tmp_path: Path) -> None:
    private_path = tmp_path / "signing.pem"
    generate_signing_key(private_path, tmp_path / "signing.pub")
    private_key = load_private_key(private_path)
    signer = LicenseSigner(private_key)
    raw = private_key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )

    shown = repr(signer) + str(signer)

    assert signer.fingerprint in shown
    assert _b64(raw) not in shown
    assert base64.b64encode(raw).decode() not in shown
    assert _pem_body(private_path) not in shown


def test_fingerprint_is_sha256_of_the_raw_public_key(signer: LicenseSigner) -> None:
    fingerprint = public_key_fingerprint(signer.public_key)

    assert fingerprint.startswith("SHA256:")
    assert len(fingerprint) == len("SHA256:") + 43
    assert fingerprint == public_key_fingerprint(signer.public_key)


# --- the license commands ---------------------------------------------------------------------


def _settings(state_dir: Path) -> Settings:
    return Settings.from_env({"DEALCYCLE_STATE_DIR": str(state_dir)})


def _run(argv: list[str], settings: Settings) -> int:
    # Wired the way starter/cli.py wires it: the CLI owns the ``license`` group.
    parser = argparse.ArgumentParser(prog="dealcycle")
    license_parser = parser.add_subparsers(dest="command", required=True).add_parser("license")
    add_license_commands(
        license_parser.add_subparsers(dest="license_command", required=True), lambda: settings
    )
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


def _sign_with(settings: Settings, **changes: object) -> str:
    return LicenseSigner(load_private_key(settings.license_private_key_file)).sign(
        _payload(**changes)
    )


def test_keygen_writes_the_pair_and_prints_only_public_facts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = _settings(tmp_path)

    code = _run(["license", "keygen"], settings)

    out, err = capsys.readouterr()
    fingerprint = public_key_fingerprint(load_public_key(settings.license_public_key_file))
    assert code == 0
    assert fingerprint in out
    assert str(settings.license_private_key_file) in out
    assert str(settings.license_public_key_file) in out
    assert "PRIVATE KEY-----" not in out + err
    assert _pem_body(settings.license_private_key_file) not in out + err
    assert stat.S_IMODE(settings.license_private_key_file.stat().st_mode) == 0o600


def test_keygen_refuses_to_replace_a_key_without_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = _settings(tmp_path)
    _run(["license", "keygen"], settings)
    before = settings.license_private_key_file.read_bytes()
    capsys.readouterr()

    refused = _run(["license", "keygen"], settings)
    refused_err = capsys.readouterr().err
    forced = _run(["license", "keygen", "--force"], settings)

    assert refused == 1
    assert "already exists" in refused_err and "--force" in refused_err
    assert forced == 0
    assert settings.license_private_key_file.read_bytes() != before


def test_a_worker_signs_with_the_key_that_keygen_force_put_in_place_of_its_own(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The worker's signer is made once, at start; a key replaced while it runs (``keygen
    --force``) signs the next keys, or they would not verify with the key that replaced it."""
    settings = _settings(tmp_path)
    _run(["license", "keygen"], settings)
    signer = LicenseSigner.from_file(settings.license_private_key_file)
    before = signer.sign(_payload())
    verify_license_key(before, load_public_key(settings.license_public_key_file))

    assert _run(["license", "keygen", "--force"], settings) == 0
    after = signer.sign(_payload())

    new_public = load_public_key(settings.license_public_key_file)
    assert verify_license_key(after, new_public) == _payload()
    with pytest.raises(InvalidLicenseKey):
        verify_license_key(before, new_public)
    assert signer.fingerprint == public_key_fingerprint(new_public)


def test_license_without_a_subcommand_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exit_info:
        _run(["license"], _settings(tmp_path))

    assert exit_info.value.code == 2


def test_verify_prints_the_license_as_a_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = _settings(tmp_path)
    _run(["license", "keygen"], settings)
    now = datetime.now(UTC)
    key = _sign_with(settings, issued=now, expires=now + timedelta(days=30, minutes=1), seats=40)
    capsys.readouterr()

    code = _run(["license", "verify", key], settings)

    # Labels and values are separated by at least two spaces; labels may hold one.
    table = dict(
        re.split(r"\s{2,}", line, maxsplit=1) for line in capsys.readouterr().out.splitlines()
    )
    assert code == 0
    assert table["Key ID"] == _payload().key_id
    assert table["Account"] == "001ACME"
    assert table["Customer"] == "Acme Café"
    assert table["Kind"] == "trial"
    assert table["Seats"] == "40"
    assert table["Issued"] == now.strftime("%Y-%m-%d %H:%M:%S UTC")
    assert table["Expires"] == (now + timedelta(days=30, minutes=1)).strftime(
        "%Y-%m-%d %H:%M:%S UTC"
    )
    assert table["Signed by"] == public_key_fingerprint(
        load_public_key(settings.license_public_key_file)
    )
    assert table["Status"] == "VALID (expires in 30 days)"


def test_verify_reports_an_expired_key_with_exit_code_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = _settings(tmp_path)
    _run(["license", "keygen"], settings)
    key = _sign_with(settings)  # expired in March 2026
    capsys.readouterr()

    code = _run(["license", "verify", key], settings)

    out = capsys.readouterr().out
    assert code == 2
    assert "EXPIRED" in out
    assert "Expires    2026-03-31 12:00:00 UTC" in out


def test_verify_rejects_an_invalid_key_with_exit_code_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = _settings(tmp_path)
    _run(["license", "keygen"], settings)
    foreign = LicenseSigner(Ed25519PrivateKey.generate()).sign(_payload())
    capsys.readouterr()

    foreign_code = _run(["license", "verify", foreign], settings)
    foreign_err = capsys.readouterr()
    garbage_code = _run(["license", "verify", "not-a-key"], settings)
    garbage_err = capsys.readouterr().err

    assert foreign_code == 1
    assert foreign_err.out == ""
    assert foreign_err.err.strip() == (
        "invalid license key: license key signature does not match the signing key"
    )
    assert garbage_code == 1
    assert "must start with DC1." in garbage_err


def test_verify_reads_the_key_from_a_file_or_stdin(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _settings(tmp_path)
    _run(["license", "keygen"], settings)
    key = _sign_with(settings, expires=datetime(2999, 1, 1, tzinfo=UTC))
    key_file = tmp_path / "customer.lic"
    key_file.write_text(key + "\n")
    monkeypatch.setattr(sys, "stdin", io.StringIO(key + "\n"))
    capsys.readouterr()

    from_file = _run(["license", "verify", f"@{key_file}"], settings)
    from_stdin = _run(["license", "verify", "-"], settings)
    missing = _run(["license", "verify", f"@{tmp_path / 'nope.lic'}"], settings)

    out, err = capsys.readouterr()
    assert (from_file, from_stdin, missing) == (0, 0, 1)
    assert out.count("VALID (expires in") == 2
    assert "cannot read the license key" in err and "nope.lic" in err


def test_verify_uses_the_private_key_when_the_public_file_is_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = _settings(tmp_path)
    _run(["license", "keygen"], settings)
    key = _sign_with(settings, expires=datetime(2999, 1, 1, tzinfo=UTC))
    settings.license_public_key_file.unlink()
    capsys.readouterr()

    assert _run(["license", "verify", key], settings) == 0
    assert "VALID" in capsys.readouterr().out


def test_verify_without_any_key_file_explains_what_to_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = _run(["license", "verify", "DC1.a.b"], _settings(tmp_path))

    err = capsys.readouterr().err
    assert code == 1
    assert "no license public key" in err and "license keygen" in err


def test_commands_end_to_end_in_a_fresh_interpreter(tmp_path: Path) -> None:
    program = (
        "import argparse, sys\n"
        "from dealcycle.settings import Settings\n"
        "from starter.license_commands import add_license_commands\n"
        "parser = argparse.ArgumentParser(prog='dealcycle')\n"
        "group = parser.add_subparsers(required=True).add_parser('license')\n"
        "add_license_commands(group.add_subparsers(required=True), Settings.from_env)\n"
        "args = parser.parse_args(sys.argv[1:])\n"
        "sys.exit(args.func(args))\n"
    )
    env = {**os.environ, "DEALCYCLE_STATE_DIR": str(tmp_path / "state")}

    def dealcycle(*argv: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", program, *argv],
            input=stdin,
            capture_output=True,
            text=True,
            cwd=REPO,
            env=env,
            timeout=60,
        )

    keygen = dealcycle("license", "keygen")
    settings = Settings.from_env(env)
    key = _sign_with(settings, expires=datetime(2999, 1, 1, tzinfo=UTC))
    valid = dealcycle("license", "verify", "-", stdin=key)
    invalid = dealcycle("license", "verify", key[:-4] + "AAAA")

    assert keygen.returncode == 0, keygen.stderr
    assert "SHA256:" in keygen.stdout
    assert _pem_body(settings.license_private_key_file) not in keygen.stdout + keygen.stderr
    assert valid.returncode == 0, valid.stderr
    assert "Customer   Acme Café" in valid.stdout
    assert invalid.returncode == 1
    assert "signature does not match the signing key" in invalid.stderr
