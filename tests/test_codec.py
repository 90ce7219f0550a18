"""The payload codec: AES-GCM with rotating keys, its settings, and the key generator."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.api.failure.v1 import Failure
from temporalio.converter import DefaultFailureConverterWithEncodedAttributes
from temporalio.exceptions import ApplicationError

from dealcycle.codec import (
    ENCODING,
    KEY_ID_METADATA,
    CodecKey,
    CodecSettings,
    EncryptionCodec,
    PayloadDecryptionError,
    new_key,
    parse_keys,
)
from dealcycle.payloads import DATA_CONVERTER, data_converter_for, data_converter_with
from dealcycle.query_failures import QueryRefused
from dealcycle.settings import Settings, SettingsError
from starter.cli import main

OLD, NEW = new_key("2026-old"), new_key("2027-new")
CUSTOMER_TEXT = "champion: Priya Raman (VP Platform) at Quillfeather Logistics"


def keys_env(*keys: CodecKey) -> str:
    return ",".join(key.line() for key in keys)


def json_payload(value: object) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=json.dumps(value).encode())


async def test_a_payload_is_sealed_under_the_current_key_and_opens_as_it_was() -> None:
    codec = EncryptionCodec([NEW, OLD])
    original = json_payload({"note": CUSTOMER_TEXT * 20})
    [sealed] = await codec.encode([original])
    assert sealed.metadata["encoding"] == ENCODING
    assert sealed.metadata[KEY_ID_METADATA] == b"2027-new"
    assert b"Quillfeather" not in sealed.SerializeToString()
    # Compressed before it was sealed: the repeated text shrinks.
    assert len(sealed.data) < len(original.data) // 4
    assert await codec.decode([sealed]) == [original]
    # A fresh nonce each time: the same payload never seals to the same bytes.
    [again] = await codec.encode([original])
    assert again.data != sealed.data


async def test_after_rotation_old_payloads_open_and_new_ones_use_the_new_key() -> None:
    [before] = await EncryptionCodec([OLD]).encode([json_payload(CUSTOMER_TEXT)])
    rotated = EncryptionCodec([NEW, OLD])
    assert await rotated.decode([before]) == [json_payload(CUSTOMER_TEXT)]
    [after] = await rotated.encode([json_payload(CUSTOMER_TEXT)])
    assert after.metadata[KEY_ID_METADATA] == b"2027-new"
    with pytest.raises(PayloadDecryptionError, match=r"key id .2027-new.*not among the keys"):
        await EncryptionCodec([OLD]).decode([after])


async def test_a_tampered_or_relabelled_payload_is_refused_without_quoting_it() -> None:
    codec = EncryptionCodec([NEW, OLD])
    [sealed] = await codec.encode([json_payload(CUSTOMER_TEXT)])
    tampered = Payload()
    tampered.CopyFrom(sealed)
    tampered.data = sealed.data[:-1] + bytes([sealed.data[-1] ^ 1])
    with pytest.raises(PayloadDecryptionError, match="does not decrypt: it was altered") as err:
        await codec.decode([tampered])
    assert "Quillfeather" not in str(err.value)
    # The key id is bound to the ciphertext: naming another known key fails the same way.
    relabelled = Payload()
    relabelled.CopyFrom(sealed)
    relabelled.metadata[KEY_ID_METADATA] = b"2026-old"
    with pytest.raises(PayloadDecryptionError, match="does not decrypt"):
        await codec.decode([relabelled])
    truncated = Payload(metadata=dict(sealed.metadata), data=sealed.data[:5])
    with pytest.raises(PayloadDecryptionError, match="does not decrypt"):
        await codec.decode([truncated])


async def test_payloads_written_before_the_codec_read_unchanged() -> None:
    plain = [json_payload({"account_name": "Acme"}), Payload(metadata={"encoding": b"binary/null"})]
    assert await EncryptionCodec([NEW]).decode(plain) == plain


async def test_with_the_codec_off_keys_still_read_what_was_sealed_but_nothing_new_is() -> None:
    [sealed] = await EncryptionCodec([NEW]).encode([json_payload(CUSTOMER_TEXT)])
    reading = CodecSettings.from_env(
        {"DEALCYCLE_CODEC": "off", "DEALCYCLE_CODEC_KEYS": keys_env(NEW)}
    )
    codec = reading.payload_codec()
    assert codec is not None
    assert await codec.encode([json_payload(1)]) == [json_payload(1)]
    assert await codec.decode([sealed]) == [json_payload(CUSTOMER_TEXT)]
    assert CodecSettings.from_env({}).payload_codec() is None
    assert data_converter_with(CodecSettings()) is DATA_CONVERTER


async def test_with_the_codec_on_failure_messages_are_encrypted_too() -> None:
    on = CodecSettings.from_env({"DEALCYCLE_CODEC": "on", "DEALCYCLE_CODEC_KEYS": keys_env(NEW)})
    converter = data_converter_with(on)
    assert isinstance(converter.failure_converter, DefaultFailureConverterWithEncodedAttributes)
    failure = Failure()
    await converter.encode_failure(ApplicationError(f"rejected: {CUSTOMER_TEXT}"), failure)
    assert "Quillfeather" not in str(failure)
    assert failure.encoded_attributes.metadata["encoding"] == ENCODING
    decoded = await converter.decode_failure(failure)
    assert str(decoded) == f"rejected: {CUSTOMER_TEXT}"


def test_settings_default_off_on_in_production_and_on_needs_a_key(tmp_path: Path) -> None:
    assert Settings.from_env({}).codec == CodecSettings()
    assert not CodecSettings().enabled
    # On without a key: every client refuses to connect, naming the variables.
    with pytest.raises(SettingsError, match=r"DEALCYCLE_CODEC is on \(DEALCYCLE_CODEC=on\)"):
        data_converter_for(Settings.from_env({"DEALCYCLE_CODEC": "on"}))
    with pytest.raises(SettingsError, match="DEALCYCLE_CODEC_KEYS or DEALCYCLE_CODEC_KEYS_FILE"):
        data_converter_for(Settings.from_env({"DEALCYCLE_ENV": "production"}))
    production = CodecSettings.from_env(
        {"DEALCYCLE_ENV": "production", "DEALCYCLE_CODEC_KEYS": keys_env(NEW, OLD)}
    )
    assert production.enabled and [k.key_id for k in production.keys()] == ["2027-new", "2026-old"]
    assert not CodecSettings.from_env(
        {"DEALCYCLE_ENV": "production", "DEALCYCLE_CODEC": "off"}
    ).enabled
    with pytest.raises(SettingsError, match="DEALCYCLE_CODEC='yes' must be on or off"):
        CodecSettings.from_env({"DEALCYCLE_CODEC": "yes"})

    key_file = tmp_path / "keys"
    key_file.write_text(f"# current first\n{NEW.line()}\n\n{OLD.line()}\n")
    from_file = CodecSettings.from_env(
        {"DEALCYCLE_CODEC": "on", "DEALCYCLE_CODEC_KEYS_FILE": str(key_file)}
    )
    assert from_file.keys() == (NEW, OLD)
    with pytest.raises(SettingsError, match="not both"):
        CodecSettings.from_env(
            {"DEALCYCLE_CODEC_KEYS": keys_env(NEW), "DEALCYCLE_CODEC_KEYS_FILE": str(key_file)}
        )
    # The file is read when a client needs the keys (a secret may not be mounted yet).
    missing = CodecSettings.from_env({"DEALCYCLE_CODEC_KEYS_FILE": str(tmp_path / "missing")})
    with pytest.raises(SettingsError, match=r"DEALCYCLE_CODEC_KEYS_FILE=.*cannot be read"):
        data_converter_with(missing)
    key_file.write_text("# no keys yet\n")
    with pytest.raises(SettingsError, match="holds no keyid=base64key line"):
        from_file.keys()

    server = CodecSettings.from_env(
        {
            "DEALCYCLE_CODEC_SERVER_PORT": "9000",
            "DEALCYCLE_CODEC_SERVER_HOST": "0.0.0.0",
            "DEALCYCLE_CODEC_SERVER_TOKEN": "s3cret",
            "DEALCYCLE_CODEC_CORS_ORIGINS": "https://ui.example.com/, http://localhost:8233",
        }
    )
    assert server.server_port == 9000 and server.server_token == "s3cret"
    assert server.server_host == "0.0.0.0" and CodecSettings().server_host == "127.0.0.1"
    assert server.cors_origins == ("https://ui.example.com", "http://localhost:8233")
    assert CodecSettings().cors_origins == ("http://localhost:8233", "http://127.0.0.1:8233")
    assert "s3cret" not in repr(server) and NEW.line().split("=", 1)[1] not in repr(production)


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        (["k1"], "entry 1 is not keyid=base64key"),
        (["k1=not base64!"], r"entry 1 \(k1\): the key is not base64"),
        ([f"k1={base64.b64encode(b'short').decode()}"], "the key is 5 bytes; AES-256 needs 32"),
        ([NEW.line(), NEW.line()], "key id '2027-new' appears twice"),
        ([f"bad id={NEW.line().split('=', 1)[1]}"], "key id 'bad id' must be"),
    ],
)
def test_malformed_keys_are_named_without_quoting_the_key(entries: list[str], message: str) -> None:
    with pytest.raises(SettingsError, match=message) as err:
        parse_keys(entries, "DEALCYCLE_CODEC_KEYS")
    assert NEW.line().split("=", 1)[1] not in str(err.value)


async def test_keygen_prints_one_key_line_the_settings_accept(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["codec", "keygen", "--id", "2028-q1"]) == 0
    printed = capsys.readouterr()
    [line] = printed.out.splitlines()
    [key] = parse_keys([line], "keygen")
    assert key.key_id == "2028-q1" and len(key.secret) == 32
    assert "put it first in DEALCYCLE_CODEC_KEYS" in printed.err
    assert main(["codec", "keygen"]) == 0
    [generated] = parse_keys(capsys.readouterr().out.splitlines(), "keygen")
    assert generated.key_id.startswith("k") and generated.secret != key.secret


async def test_a_refused_query_keeps_its_message_plain_and_drops_its_stack_trace() -> None:
    """Query answers are never kept in a history, and the client gets a refusal's message only:
    encoded, it would read "Encoded failure"."""
    on = CodecSettings.from_env({"DEALCYCLE_CODEC": "on", "DEALCYCLE_CODEC_KEYS": keys_env(NEW)})
    converter = data_converter_with(on)
    refused = Failure()
    await converter.encode_failure(QueryRefused("the review did not start", type="X"), refused)
    assert refused.message == "the review did not start" and refused.stack_trace == ""
    other = Failure()
    await converter.encode_failure(ApplicationError("the review did not start"), other)
    assert other.message == "Encoded failure"
