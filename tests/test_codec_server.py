"""``dealcycle codec-server`` over real HTTP: the remote codec protocol the Temporal Web UI and
CLI speak, its token check and its CORS answers."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload

from dealcycle.codec import KEY_ID_METADATA, CodecSettings, EncryptionCodec, new_key
from dealcycle.codec_server import CodecServerError, serve_codec
from dealcycle.devtools.devserver import free_port
from tests.support.codec import running_codec_server

OLD, NEW = new_key("2026-old"), new_key("2027-new")
TOKEN = "codec-token-for-tests"
UI = "http://localhost:8233"
TEXT = "economic buyer: Tomasz Wiśniewski, CFO of Quillfeather Logistics"


def wire(payloads: list[dict[str, Any]]) -> dict[str, Any]:
    return {"payloads": payloads}


def json_payload(value: object) -> dict[str, Any]:
    """A payload as the Web UI sends it: metadata values and data in base64."""
    return {
        "metadata": {"encoding": base64.b64encode(b"json/plain").decode()},
        "data": base64.b64encode(json.dumps(value).encode()).decode(),
    }


@pytest_asyncio.fixture(loop_scope="session")
async def codec_url() -> AsyncIterator[str]:
    """A codec server that knows both keys and encrypts with the new one (after rotation)."""
    codec = EncryptionCodec([NEW, OLD])
    async with running_codec_server(codec=codec, token=TOKEN, cors_origins=[UI]) as url:
        yield url


async def post(
    url: str, body: Any, *, token: str | None = TOKEN, origin: str | None = UI
) -> tuple[int, dict[str, str], Any]:
    headers = {"X-Namespace": "default"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if origin is not None:
        headers["Origin"] = origin
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, json=body, headers=headers) as response,
    ):
        return response.status, dict(response.headers), await response.json()


async def test_encode_then_decode_gives_back_the_payload(codec_url: str) -> None:
    status, headers, sealed = await post(f"{codec_url}/encode", wire([json_payload(TEXT)]))
    assert status == 200 and headers["Content-Type"].startswith("application/json")
    [payload] = sealed["payloads"]
    assert base64.b64decode(payload["metadata"]["encoding"]) == b"binary/encrypted"
    assert base64.b64decode(payload["metadata"][KEY_ID_METADATA]) == b"2027-new"
    assert "Quillfeather" not in base64.b64decode(payload["data"]).decode("latin-1")
    status, _, opened = await post(f"{codec_url}/decode", sealed)
    assert status == 200
    assert opened == wire([json_payload(TEXT)])


async def test_decode_needs_the_token(codec_url: str) -> None:
    [sealed] = await EncryptionCodec([NEW]).encode([_proto(json_payload(TEXT))])
    body = wire([_wire(sealed)])
    for token in (None, "wrong-token", TOKEN + "x"):
        status, headers, answer = await post(f"{codec_url}/decode", body, token=token)
        assert status == 401, token
        assert answer == {"message": "missing or wrong Authorization: Bearer token"}
        # The Web UI can still read why: the refusal carries the CORS headers.
        assert headers["Access-Control-Allow-Origin"] == UI
    status, _, answer = await post(f"{codec_url}/decode", body)
    assert status == 200 and answer == wire([json_payload(TEXT)])


async def test_a_payload_sealed_with_the_old_key_decodes_after_rotation(codec_url: str) -> None:
    [sealed] = await EncryptionCodec([OLD]).encode([_proto(json_payload(TEXT))])
    status, _, answer = await post(f"{codec_url}/decode", wire([_wire(sealed)]))
    assert status == 200 and answer == wire([json_payload(TEXT)])
    unknown = new_key("2025-gone")
    [lost] = await EncryptionCodec([unknown]).encode([_proto(json_payload(TEXT))])
    status, _, answer = await post(f"{codec_url}/decode", wire([_wire(lost)]))
    assert status == 400 and "'2025-gone', which is not among the keys" in answer["message"]


async def test_a_tampered_payload_is_refused(codec_url: str) -> None:
    _, _, sealed = await post(f"{codec_url}/encode", wire([json_payload(TEXT)]))
    data = bytearray(base64.b64decode(sealed["payloads"][0]["data"]))
    data[20] ^= 0x01
    sealed["payloads"][0]["data"] = base64.b64encode(bytes(data)).decode()
    status, _, answer = await post(f"{codec_url}/decode", sealed)
    assert status == 400
    assert "does not decrypt: it was altered" in answer["message"]
    assert "Quillfeather" not in json.dumps(answer)


async def test_plain_payloads_pass_through_and_bad_bodies_are_refused(codec_url: str) -> None:
    status, _, answer = await post(f"{codec_url}/decode", wire([json_payload("plain")]))
    assert status == 200 and answer == wire([json_payload("plain")])
    status, _, answer = await post(f"{codec_url}/decode", {"payloads": "no"})
    assert status == 400 and answer["message"] == 'the body is not {"payloads": [...]}'


async def test_cors_answers_the_web_ui_origin_only(codec_url: str) -> None:
    async with aiohttp.ClientSession() as session:
        preflight = {
            "Origin": UI,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type,x-namespace",
        }
        async with session.options(f"{codec_url}/decode", headers=preflight) as response:
            assert response.status == 200
            assert response.headers["Access-Control-Allow-Origin"] == UI
            assert response.headers["Access-Control-Allow-Credentials"] == "true"
            allowed = response.headers["Access-Control-Allow-Headers"].lower()
            assert {"authorization", "content-type", "x-namespace"} <= {
                header.strip() for header in allowed.split(",")
            }
            assert "POST" in response.headers["Access-Control-Allow-Methods"]
        elsewhere = {**preflight, "Origin": "https://evil.example.com"}
        async with session.options(f"{codec_url}/decode", headers=elsewhere) as response:
            assert not any(h.startswith("Access-Control-") for h in response.headers)
    status, headers, _ = await post(
        f"{codec_url}/decode", wire([json_payload(1)]), origin="https://evil.example.com"
    )
    assert status == 200  # a non-browser client with the token is served...
    # ...but a browser at another origin is not allowed to read the answer.
    assert not any(h.startswith("Access-Control-") for h in headers)


async def test_the_server_refuses_to_start_without_a_token_unless_loopback_no_auth() -> None:
    codec = EncryptionCodec([NEW])
    with pytest.raises(CodecServerError, match="DEALCYCLE_CODEC_SERVER_TOKEN is not set"):
        await serve_codec(codec, host="127.0.0.1", port=free_port(), token="", no_auth=False,
                          cors_origins=[UI])  # fmt: skip
    with pytest.raises(CodecServerError, match="loopback address only"):
        await serve_codec(codec, host="0.0.0.0", port=free_port(), token="", no_auth=True,
                          cors_origins=[UI])  # fmt: skip
    # On loopback, --no-auth serves without a token (a local Web UI sends none).
    stop = asyncio.Event()
    port = free_port()
    serving = asyncio.create_task(
        serve_codec(
            codec, host="127.0.0.1", port=port, token="", no_auth=True, cors_origins=[UI], stop=stop
        )
    )
    url = f"http://127.0.0.1:{port}/encode"
    for _ in range(100):
        try:
            status, _, _ = await post(url, wire([json_payload(1)]), token=None)
            break
        except aiohttp.ClientConnectionError:
            await asyncio.sleep(0.05)
    assert status == 200
    stop.set()
    await serving


def _proto(payload: dict[str, Any]) -> Payload:
    return json_format.ParseDict(payload, Payload())


def _wire(payload: Payload) -> dict[str, Any]:
    answer: dict[str, Any] = json_format.MessageToDict(payload)
    return answer


@pytest.mark.parametrize(
    "ui",
    [
        "http://127.0.0.1:8233",  # what `dealcycle server` and `make run` print for the Web UI
        "http://localhost:8233",  # the README's and the CLI's links (DEALCYCLE_TEMPORAL_UI_URL)
    ],
)
async def test_the_default_origins_let_the_dev_servers_web_ui_read_the_answers(ui: str) -> None:
    default_origins = CodecSettings.from_env({}).cors_origins
    async with running_codec_server(token=TOKEN, cors_origins=default_origins) as url:
        status, headers, _ = await post(f"{url}/decode", wire([json_payload(1)]), origin=ui)
    assert status == 200
    assert headers.get("Access-Control-Allow-Origin") == ui
