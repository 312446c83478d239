"""gunicorn's access log as it must be for CloudWatch: every line valid JSON whatever the client
sent (quotes, backslashes and control characters in a path or user agent are escaped), and card
numbers redacted with the same detector as the app's own logs (apps.core.cards). The query string
is not logged at all: it can carry credentials (an order access link, a cursor) and the app's own
request log leaves it out too."""

from __future__ import annotations

import json
from typing import Any

from gunicorn.glogging import Logger

from apps.core.cards import redact_card_numbers


def _json_safe(value: str) -> str:
    # gunicorn itself only puts a backslash before '"' (glogging.SafeAtoms), which leaves a
    # backslash or a control character to break the line; the quote is written as its \u escape
    # so that gunicorn's own step finds none left to double.
    return json.dumps(redact_card_numbers(value))[1:-1].replace('\\"', "\\u0022")


class RedactingJsonLogger(Logger):
    def atoms(self, resp: Any, req: Any, environ: dict, request_time: Any) -> dict[str, Any]:
        atoms = super().atoms(resp, req, environ, request_time)
        return {key: _json_safe(value) if isinstance(value, str) else value for key, value in atoms.items()}
