"""What a conversation id and a client message id may look like: one definition for every channel.

Why one rule: the id is the only secret binding a browser tab (or a partner's or messenger's
conversation) to its record, and it becomes part of Redis keys, pub/sub channel names, URLs and log
lines. Each of those places used to carry its own copy of the pattern; a copy that drifted would let
an id in through one door that another door (the console, the WebSocket) then refuses. The widget
gets the same pattern from the gateway when `widget.js` is served (`connectors.web.router`).

Ids are 6-100 of A-Z a-z 0-9 `_ . : -`: the widget's random `web-<32 hex>`, the messengers' keyed
hashes (`tg-<32 hex>`, `connectors.common.pseudonymous_id`) and partner-scoped ids all fit.

A client message id (`client_message_id`) names one message of the citizen, chosen by the client
(the widget: a random UUID per message) and sent again unchanged when the client retries that
message. The turn handler answers and stores a message once per id and conversation
(`bot.conversation.receipts`). Ids are 8-64 of A-Z a-z 0-9 `_ -`: a UUID (with or without dashes),
a ULID or 32 hex digits fit; the id becomes part of Redis keys, hence no `:` or `.`.
"""

from __future__ import annotations

import re

CONVERSATION_ID_PATTERN = r"^[A-Za-z0-9_.:-]{6,100}$"  # JSON Schema / JavaScript compatible
_CONVERSATION_ID = re.compile(CONVERSATION_ID_PATTERN)


def is_conversation_id(value: object) -> bool:
    """Whether `value` may be used as a conversation id (in keys, channel names, URLs and logs)."""
    return isinstance(value, str) and _CONVERSATION_ID.fullmatch(value) is not None


CLIENT_MESSAGE_ID_PATTERN = r"^[A-Za-z0-9_-]{8,64}$"  # JSON Schema / JavaScript compatible
_CLIENT_MESSAGE_ID = re.compile(CLIENT_MESSAGE_ID_PATTERN)


def is_client_message_id(value: object) -> bool:
    """Whether `value` may be used as a client message id (it becomes part of a Redis key)."""
    return isinstance(value, str) and _CLIENT_MESSAGE_ID.fullmatch(value) is not None
