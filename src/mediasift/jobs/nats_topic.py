"""The events topic on NATS: JetStream stream ``<namespace>_events`` over the subjects
``<namespace>.events.<type>`` (``asset.analysed`` is ``<namespace>.events.asset.analysed``). A core
NATS subscription on ``<namespace>.events.>`` sees each event as it is stored; a JetStream consumer
reads what it missed.

Each message carries ``Nats-Msg-Id: <event id>``: JetStream stores one copy of an id within the
stream's duplicate window, however often a relay publishes it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import nats
from nats.js.api import RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import BadRequestError

from mediasift.jobs.aio_thread import LoopThread
from mediasift.jobs.topic import DEDUPE_WINDOW_S, TopicMessage

_API_TIMEOUT_S = 5.0  # one publish acknowledgement
_CALL_TIMEOUT_S = 30.0  # a whole call
_WINDOW = 200  # publishes awaiting their acknowledgements at once
_STREAM_IN_USE = 10058  # JetStream: a stream of that name exists with another configuration


class NatsTopic:
    name = "nats"

    def __init__(self, url: str, *, namespace: str = "mediasift", max_events: int = 1_000_000) -> None:
        self.url = url
        self.namespace = namespace
        self.stream = f"{namespace}_events"
        self.max_events = max_events
        self._thread = LoopThread(f"nats-topic-{namespace}")
        try:
            self._thread.run(self._connect(), _CALL_TIMEOUT_S)
        except BaseException:
            self._thread.stop()
            raise

    def subject(self, event_type: str) -> str:
        return f"{self.namespace}.events.{event_type}"

    def publish(self, messages: Sequence[TopicMessage]) -> None:
        if messages:
            self._thread.run(self._publish(messages), _CALL_TIMEOUT_S + len(messages) / 100)

    def close(self) -> None:
        try:
            self._thread.run(self._nc.close(), _API_TIMEOUT_S)
        finally:
            self._thread.stop()

    async def _connect(self) -> None:
        self._nc = await nats.connect(
            self.url, name=f"mediasift-events-{self.namespace}", max_reconnect_attempts=-1, reconnect_time_wait=0.5
        )
        self._js = self._nc.jetstream(timeout=_API_TIMEOUT_S)
        config = StreamConfig(
            name=self.stream,
            subjects=[f"{self.namespace}.events.>"],
            retention=RetentionPolicy.LIMITS,
            storage=StorageType.FILE,
            max_msgs=self.max_events,
            duplicate_window=DEDUPE_WINDOW_S,
        )
        try:
            await self._js.add_stream(config)
        except BadRequestError as error:
            if error.err_code != _STREAM_IN_USE:
                raise
            await self._js.update_stream(config)  # another max_events, say

    async def _publish(self, messages: Sequence[TopicMessage]) -> None:
        for start in range(0, len(messages), _WINDOW):
            await asyncio.gather(
                *(
                    self._js.publish(self.subject(m.type), m.body, headers={"Nats-Msg-Id": m.id})
                    for m in messages[start : start + _WINDOW]
                )
            )
