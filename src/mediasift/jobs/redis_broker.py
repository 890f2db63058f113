"""The Redis Streams backend: one stream per lane, read by one consumer group.

Keys, all under ``{namespace}:``: ``lane:{lane}`` (a stream; field ``job`` holds ``Job.to_json()``),
``delayed:{lane}`` (a sorted set of job JSON scored by due time in server milliseconds),
``queued`` (a set of the ids ready, delayed or in flight: publish dedupe) and ``dead`` (a hash of
job id to dead-letter JSON).

A delivery is a stream entry in the group's pending list; its delivery counter, raised each time a
consumer reclaims it after ``lease_s`` idle, is how a crash counts as an attempt. An entry is
deleted from the stream when it is acked, released or buried, so a stream holds only entries not
yet delivered or in flight.

Every operation is one Lua script that gets every key of the namespace (the lanes are numbered 1,
2, ... in ``Lane`` order): each runs atomically in one round trip, and each is safe to repeat,
which matters because the client retries on connection errors (a Redis restart) without knowing
whether the first try ran: a repeated publish or settle changes nothing, and the entries a lost
fetch reply took come back after the lease. Delays are measured on the Redis server's clock, so workers on hosts
with skewed clocks agree on when a job is due.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, NamedTuple, TypeVar

import redis
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import ResponseError
from redis.retry import Retry
from redis.typing import KeyT, StreamIdT

from mediasift.jobs.model import DeadLetter, Delivery, Failure, Job, Lane, Limits, QueueStats

T = TypeVar("T")

LANES = tuple(Lane)
CHUNK = 1000  # jobs or deliveries per script call: keeps each call short on the server
MAX_BLOCK_S = 5.0  # a blocking read stays well inside the socket timeout, then fetch looks again

_PRELUDE = """
local function stream(lane) return KEYS[1 + 2 * lane] end
local function delayed(lane) return KEYS[2 + 2 * lane] end
local function now_ms()
  local t = redis.call('TIME')
  return t[1] * 1000 + math.floor(t[2] / 1000)
end
local function enqueue(lane, delay_ms, job)
  if delay_ms > 0 then
    redis.call('ZADD', delayed(lane), now_ms() + delay_ms, job)
  else
    redis.call('XADD', stream(lane), '*', 'job', job)
  end
end
"""

# ARGV: delay_ms, redrive (0/1), then (lane, job id, job JSON) per job. A job whose id is already
# queued is dropped; a redrive takes only jobs still in the dead hash. Returns how many it redrove.
_PUBLISH = """
local delay_ms, redrive = tonumber(ARGV[1]), ARGV[2] == '1'
local redriven = 0
for i = 3, #ARGV, 3 do
  local id = ARGV[i + 1]
  if not redrive or redis.call('HDEL', KEYS[2], id) == 1 then
    if redrive then redriven = redriven + 1 end
    if redis.call('SADD', KEYS[1], id) == 1 then enqueue(tonumber(ARGV[i]), delay_ms, ARGV[i + 2]) end
  end
end
return redriven
"""

# ARGV: group, consumer, lease_ms, then a quota per lane. Moves due delayed jobs into their streams,
# reclaims entries idle past the lease (XCLAIM raises their delivery counter), then reads new ones.
# Returns {{lane, entry id, job JSON, deliveries}...} and the ms until the next delayed job is due
# (-1: none).
_FETCH = """
local group, consumer, lease_ms = ARGV[1], ARGV[2], tonumber(ARGV[3])
local now = now_ms()
local out, next_due = {}, -1
for lane = 1, #ARGV - 3 do
  local s, d = stream(lane), delayed(lane)
  for _, job in ipairs(redis.call('ZRANGEBYSCORE', d, '-inf', now, 'LIMIT', 0, 1000)) do
    redis.call('XADD', s, '*', 'job', job)
    redis.call('ZREM', d, job)
  end
  local first = redis.call('ZRANGE', d, 0, 0, 'WITHSCORES')[2]
  if first then
    local wait = math.max(0, first - now)
    if next_due < 0 or wait < next_due then next_due = wait end
  end
  local quota = tonumber(ARGV[3 + lane])
  if quota > 0 then
    for _, p in ipairs(redis.call('XPENDING', s, group, 'IDLE', lease_ms, '-', '+', quota)) do
      local m = redis.call('XCLAIM', s, group, consumer, lease_ms, p[1])[1]
      if m then
        out[#out + 1] = {lane, m[1], m[2][2], p[4] + 1}
        quota = quota - 1
      end
    end
    if quota > 0 then
      local fresh = redis.call('XREADGROUP', 'GROUP', group, consumer, 'COUNT', quota, 'STREAMS', s, '>')
      if fresh then
        for _, m in ipairs(fresh[1][2]) do out[#out + 1] = {lane, m[1], m[2][2], 1} end
      end
    end
  end
end
return {out, next_due}
"""

# ARGV: group, action, delay_ms, data, then (lane, entry id, job id) per delivery. The action is
# 'ack', 'bury' (data: the dead letter) or 'release' (data: the job to enqueue again, after delay_ms).
# Only a delivery still pending is settled, so a retried call, or a late one after the lease passed
# to another consumer who settled it, changes nothing.
_SETTLE = """
local group, action, delay_ms, data = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
for i = 5, #ARGV, 3 do
  local lane, id, job_id = tonumber(ARGV[i]), ARGV[i + 1], ARGV[i + 2]
  if redis.call('XACK', stream(lane), group, id) == 1 then
    redis.call('XDEL', stream(lane), id)
    if action == 'release' then
      enqueue(lane, delay_ms, data)
    else
      redis.call('SREM', KEYS[1], job_id)
      if action == 'bury' then redis.call('HSET', KEYS[2], job_id, data) end
    end
  end
end
"""

# ARGV: group, then (lane, entry id, consumer) per delivery. XCLAIM with min-idle 0 and JUSTID
# resets the idle time without raising the delivery counter; an entry another consumer has
# reclaimed meanwhile is left to it.
_EXTEND = """
for i = 2, #ARGV, 3 do
  local s, id, consumer = stream(tonumber(ARGV[i])), ARGV[i + 1], ARGV[i + 2]
  local p = redis.call('XPENDING', s, ARGV[1], id, id, 1)[1]
  if p and p[2] == consumer then redis.call('XCLAIM', s, ARGV[1], consumer, 0, id, 'JUSTID') end
end
"""


class RedisHandle(NamedTuple):
    stream: str
    entry_id: str
    consumer: str


def _chunks(items: Sequence[T]) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


class RedisBroker:
    name = "redis"

    def __init__(self, url: str, *, lease_s: float = 30.0, namespace: str = "mediasift") -> None:
        self.url = url
        self.lease_s = lease_s
        self.namespace = namespace
        self._group = f"{namespace}:workers"
        self._streams = [f"{namespace}:lane:{lane.value}" for lane in LANES]
        self._delayed = [f"{namespace}:delayed:{lane.value}" for lane in LANES]
        self._lane_no = {stream: n for n, stream in enumerate(self._streams, 1)}
        self._dead = f"{namespace}:dead"
        self._keys = [f"{namespace}:queued", self._dead]
        for stream, delayed in zip(self._streams, self._delayed, strict=True):
            self._keys += [stream, delayed]
        # Retries with backoff for some 20-30 s ride out a Redis restart (BusyLoadingError,
        # raised while it reloads its data, is a ConnectionError, so it is retried too).
        self._redis = redis.Redis.from_url(
            url,
            decode_responses=True,
            socket_timeout=MAX_BLOCK_S + 25,
            socket_connect_timeout=5,
            retry=Retry(ExponentialWithJitterBackoff(cap=2.0, base=0.05), retries=20),
        )
        self._publish = self._redis.register_script(_PRELUDE + _PUBLISH)
        self._fetch = self._redis.register_script(_PRELUDE + _FETCH)
        self._settle = self._redis.register_script(_PRELUDE + _SETTLE)
        self._extend = self._redis.register_script(_PRELUDE + _EXTEND)
        self._create_groups()

    def _create_groups(self) -> None:
        for stream in self._streams:
            try:
                self._redis.xgroup_create(stream, self._group, id="0", mkstream=True)
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise

    def _with_groups(self, op: Callable[[], T]) -> T:
        """Run ``op``, recreating the consumer group once if it is gone (another process purged the
        namespace, or Redis came back without its data)."""
        try:
            return op()
        except ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
        self._create_groups()
        return op()

    def _run(self, script: Any, args: Sequence[object]) -> Any:
        return self._with_groups(lambda: script(keys=self._keys, args=args))

    def publish(self, jobs: Sequence[Job], *, delay_s: float = 0.0) -> None:
        self._enqueue(jobs, delay_ms=round(delay_s * 1000), redrive=False)

    def _enqueue(self, jobs: Sequence[Job], *, delay_ms: int, redrive: bool) -> int:
        count = 0
        for chunk in _chunks(jobs):
            args: list[object] = [delay_ms, int(redrive)]
            for job in chunk:
                args += [LANES.index(job.lane) + 1, job.id, job.to_json()]
            count += self._run(self._publish, args)
        return count

    def fetch(
        self, consumer: str, quotas: Mapping[Lane, int], wait_s: float, groups: frozenset[str] | None = None
    ) -> list[Delivery]:
        """Each lane's stream is read by one consumer group for all workers: jobs of every group come
        (``groups`` is not asked of the server)."""
        counts = [max(0, quotas.get(lane, 0)) for lane in LANES]
        wanted: dict[KeyT, StreamIdT] = {
            stream: ">" for stream, count in zip(self._streams, counts, strict=True) if count
        }
        deadline = time.monotonic() + wait_s
        while True:
            entries, next_due_ms = self._run(self._fetch, [self._group, consumer, self._lease_ms, *counts])
            if entries:
                return [
                    self._delivery(Job.from_json(text), deliveries, self._streams[lane - 1], entry_id, consumer)
                    for lane, entry_id, text, deliveries in entries
                ]
            block_s = min(deadline - time.monotonic(), MAX_BLOCK_S)
            if block_s <= 0:
                return []
            if next_due_ms >= 0:
                block_s = min(block_s, next_due_ms / 1000)
            if not wanted:
                time.sleep(block_s)
                continue
            # Nothing is ready: wait on every wanted lane at once. COUNT applies per stream, so the
            # smallest quota keeps every lane within its own; the next fetch takes the rest.
            got = self._wait(consumer, wanted, min(count for count in counts if count), block_s)
            if got:
                return got

    def _wait(self, consumer: str, streams: dict[KeyT, StreamIdT], count: int, block_s: float) -> list[Delivery]:
        block_ms = max(1, math.ceil(block_s * 1000))  # BLOCK 0 would wait forever
        reply: Any = self._with_groups(
            lambda: self._redis.xreadgroup(self._group, consumer, streams, count=count, block=block_ms)
        )
        return [
            self._delivery(Job.from_json(fields["job"]), 1, stream, entry_id, consumer)
            for stream, messages in reply or []
            for entry_id, fields in messages
        ]

    @property
    def _lease_ms(self) -> int:
        return max(1, round(self.lease_s * 1000))

    @staticmethod
    def _delivery(job: Job, deliveries: int, stream: str, entry_id: str, consumer: str) -> Delivery:
        return Delivery(job, job.attempts_before + deliveries, RedisHandle(stream, entry_id, consumer))

    def _settle_all(self, deliveries: Sequence[Delivery], action: str, delay_ms: int = 0, data: str = "") -> None:
        for chunk in _chunks(deliveries):
            args: list[object] = [self._group, action, delay_ms, data]
            for delivery in chunk:
                handle: RedisHandle = delivery.handle
                args += [self._lane_no[handle.stream], handle.entry_id, delivery.job.id]
            self._run(self._settle, args)

    def ack(self, deliveries: Sequence[Delivery]) -> None:
        self._settle_all(deliveries, "ack")

    def extend(self, deliveries: Sequence[Delivery]) -> None:
        for chunk in _chunks(deliveries):
            args: list[object] = [self._group]
            for delivery in chunk:
                handle: RedisHandle = delivery.handle
                args += [self._lane_no[handle.stream], handle.entry_id, handle.consumer]
            self._run(self._extend, args)

    def release(self, delivery: Delivery, *, delay_s: float, count_attempt: bool = True) -> None:
        attempts = delivery.attempt if count_attempt else delivery.attempt - 1
        job = replace(delivery.job, attempts_before=attempts)
        self._settle_all([delivery], "release", round(delay_s * 1000), job.to_json())

    def bury(self, delivery: Delivery, failure: Failure) -> None:
        letter = {
            "job": delivery.job.to_json(),
            "attempts": delivery.attempt,
            "error_class": failure.error_class.value,
            "message": failure.message,
            "traceback": failure.traceback,
            "failed_at": datetime.now(UTC).isoformat(),
        }
        self._settle_all([delivery], "bury", data=json.dumps(letter))

    def dead_letters(self, limit: int = 1000) -> list[DeadLetter]:
        letters = []
        for text in self._redis.hvals(self._dead):
            data = json.loads(text)
            data["job"] = Job.from_json(data["job"])
            data["failed_at"] = datetime.fromisoformat(data["failed_at"])
            letters.append(DeadLetter(**data))
        letters.sort(key=lambda letter: letter.failed_at)
        return letters[:limit]

    def redrive(self, job_ids: Sequence[str], limits: Mapping[str, Limits] | None = None) -> int:
        ids = list(dict.fromkeys(job_ids))
        texts = self._redis.hmget(self._dead, ids) if ids else []
        given = limits or {}
        dead = [Job.from_json(json.loads(text)["job"]) for text in texts if text]
        jobs = [job.limited(given.get(job.id)) for job in dead]
        return self._enqueue(jobs, delay_ms=0, redrive=True)

    def drop_dead(self, job_ids: Sequence[str]) -> int:
        ids = list(dict.fromkeys(job_ids))
        return int(self._redis.hdel(self._dead, *ids)) if ids else 0

    def stats(self) -> QueueStats:
        def read() -> list[Any]:
            pipe = self._redis.pipeline()  # MULTI/EXEC: one consistent snapshot
            for stream, delayed in zip(self._streams, self._delayed, strict=True):
                pipe.xlen(stream)
                pipe.xpending(stream, self._group)
                pipe.zcard(delayed)
            pipe.hlen(self._dead)
            return pipe.execute()

        *per_lane, dead = self._with_groups(read)
        stats = QueueStats(dead=dead)
        for n, lane in enumerate(LANES):
            length, pending, delayed = per_lane[3 * n : 3 * n + 3]
            # Acked entries are deleted, so a stream holds only ready and in-flight entries.
            stats.ready[lane.value] = max(0, length - pending["pending"])
            stats.in_flight += pending["pending"]
            stats.delayed += delayed
        return stats

    def purge(self) -> None:
        pattern = re.sub(r"([*?\[\]\\])", r"\\\1", self.namespace) + ":*"
        batch = []
        for key in self._redis.scan_iter(match=pattern, count=1000):
            batch.append(key)
            if len(batch) >= CHUNK:
                self._redis.unlink(*batch)
                batch = []
        if batch:
            self._redis.unlink(*batch)
        self._create_groups()  # the broker stays usable, empty

    def close(self) -> None:
        self._redis.close()
