"""Exactly once across gateway processes: Redis `SET NX` claims, one-off and leased.

Why here, below the channels and the turn handler: messengers claim their update and event ids
(`connectors.messaging`), the outbox claims each delivery (`bb:delivered:{message_id}`) and the turn
handler claims each client message id (`bot.turns.handler`); all use the same two helpers.

- `claim`: the first caller wins until the key expires. Enough when the winner's work is short and
  a lost winner costs nothing but a skipped duplicate (a webhook replay, a second delivery).
- `Lease`: a claim held by one owner (a random token) for a short time and renewed while the owner
  works. A crashed owner, or one cut off from Redis, stops renewing, so a retry can take over within
  seconds instead of waiting for a long TTL; renewal and release only touch the owner's own token.
  `held_by_me` lets a transaction check the lease atomically with its writes (fencing): an owner
  that lost its lease writes nothing.
"""

from __future__ import annotations

import secrets
from typing import Any

import redis

# Renew or release the lease only while it is still ours (another owner may hold it by now).
_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end
return 0
"""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


def claim(client: redis.Redis, key: str, ttl_s: int) -> bool:
    """True for exactly one caller across all processes until the key expires."""
    return bool(client.set(key, "1", nx=True, ex=ttl_s))


def _text(value: Any) -> str | None:
    return value.decode() if isinstance(value, bytes) else value


class Lease:
    """One owner for a key at a time; the owner renews it while working and releases it when done."""

    def __init__(self, client: redis.Redis, key: str, ttl_s: float) -> None:
        self.redis = client
        self.key = key
        self.ttl_ms = max(1, int(ttl_s * 1000))
        self.token = secrets.token_hex(16)

    def acquire(self) -> bool:
        """Take the lease if nobody holds it (SET NX with the lease's TTL)."""
        return bool(self.redis.set(self.key, self.token, nx=True, px=self.ttl_ms))

    def renew(self) -> bool:
        """Extend the lease; False when it expired or another owner holds it now."""
        return bool(self.redis.eval(_RENEW, 1, self.key, self.token, self.ttl_ms))

    def release(self) -> None:
        """Give the lease up (only if it is still ours), so a waiting retry goes ahead at once."""
        self.redis.eval(_RELEASE, 1, self.key, self.token)

    def held_by_me(self, pipe: redis.client.Pipeline) -> bool:
        """Inside a WATCHed transaction (before MULTI): whether the lease is still ours."""
        return _text(pipe.get(self.key)) == self.token
