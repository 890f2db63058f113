"""The events topic on Redis: one stream, ``<namespace>:events``, an entry per event with the fields
``id``, ``type``, ``key`` (the asset id) and ``event`` (the JSON). Read it with ``XREAD`` or a
consumer group of your own.

Each entry is added by a script that first sets ``<namespace>:event:<id>`` (``NX``, expiring after
the dedupe window): a second publish of an event within the window adds nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

import redis
from redis.backoff import ExponentialWithJitterBackoff
from redis.retry import Retry

from mediasift.jobs.topic import DEDUPE_WINDOW_S, TopicMessage

# KEYS[1]: the stream. ARGV: maxlen, window_s, key prefix, then (id, type, key, body) per event.
_ADD = """
local added = 0
for i = 4, #ARGV, 4 do
  if redis.call('SET', ARGV[3] .. ARGV[i], '1', 'NX', 'EX', ARGV[2]) then
    redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*',
               'id', ARGV[i], 'type', ARGV[i + 1], 'key', ARGV[i + 2], 'event', ARGV[i + 3])
    added = added + 1
  end
end
return added
"""
CHUNK = 500  # events per script call: keeps each call short on the server


class RedisTopic:
    name = "redis"

    def __init__(self, url: str, *, namespace: str = "mediasift", max_events: int = 1_000_000) -> None:
        self.stream = f"{namespace}:events"
        self._seen = f"{namespace}:event:"
        self.max_events = max_events
        # As the broker's client: retries ride out a Redis restart (the script is safe to repeat).
        self._redis = redis.Redis.from_url(
            url,
            socket_timeout=30,
            socket_connect_timeout=5,
            retry=Retry(ExponentialWithJitterBackoff(cap=2.0, base=0.05), retries=20),
        )
        self._add = self._redis.register_script(_ADD)

    def publish(self, messages: Sequence[TopicMessage]) -> None:
        for start in range(0, len(messages), CHUNK):
            args: list[str | bytes | int] = [self.max_events, DEDUPE_WINDOW_S, self._seen]
            for message in messages[start : start + CHUNK]:
                args += [message.id, message.type, message.key, message.body]
            self._add(keys=[self.stream], args=args)

    def close(self) -> None:
        self._redis.close()
