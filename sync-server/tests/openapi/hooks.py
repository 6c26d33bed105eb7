"""schemathesis hooks for scripts/test-openapi."""

import re
import uuid

import schemathesis

# tus PATCH bodies are raw bytes; schemathesis serialises this media type like any binary body.
schemathesis.serializer.alias("application/offset+octet-stream", "application/octet-stream")

_VALID_KEY = re.compile(r"^[!-~]{1,255}$")


@schemathesis.hook
def before_call(context, case, kwargs):
    # Generated Idempotency-Keys repeat ("0"), and the same key on another body is rightly
    # 422 idempotency-key-reused: give every valid key a fresh value (invalid ones stay, for
    # the negative tests).
    for name, value in list((case.headers or {}).items()):
        if name.lower() == "idempotency-key" and isinstance(value, str) and _VALID_KEY.match(value):
            case.headers[name] = str(uuid.uuid4())
