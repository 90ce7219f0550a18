"""What Temporal accepts in one payload, checked before a request is sent.

Over the limit, the server refuses a signal with "Blob data size exceeds limit", fails the
workflow task that takes an update (the person is told only "unexpected workflow task
failure"), and gRPC refuses anything over 4 MB outright; the size, named here, says why.
"""

from __future__ import annotations

from temporalio.converter import DataConverter

from starter.errors import CommandError

MAX_PAYLOAD_BYTES = 2 * 1024 * 1024
"""Temporal's ``limit.blobSize.error`` (server default)."""


def check_payload_size(request: object, what: str = "the request") -> None:
    """The client uses the default converter, so its size is the size that is sent."""
    payloads = DataConverter.default.payload_converter.to_payloads([request])
    size = sum(payload.ByteSize() for payload in payloads)
    if size > MAX_PAYLOAD_BYTES:
        raise CommandError(
            f"{what} is {size / 1024 / 1024:.1f} MB; Temporal accepts at most"
            f" {MAX_PAYLOAD_BYTES // 1024 // 1024} MB in one payload (send ids and links, not"
            " documents)"
        )
