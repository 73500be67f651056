"""A real SMTP server on 127.0.0.1 (aiosmtpd in a thread) that records what it accepts.

It can be down (nothing listens on its port), up, or hanging on DATA until released (a worker
killed while talking to it).
"""

from __future__ import annotations

import asyncio
import socket
import threading
from email import message_from_bytes
from email.message import Message
from typing import Any

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class _Handler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.sink.hang.is_set():
            self.sink.in_data.set()
            while not self.sink.release.is_set():
                await asyncio.sleep(0.05)
            return "451 dropped"  # the client that sent it is gone anyway
        with self.sink.changed:
            self.sink.messages.append(message_from_bytes(envelope.content))
            self.sink.changed.notify_all()
        return "250 OK"


class SmtpSink:
    """``messages`` accepted so far; ``start()``/``stop()`` bring it up and down on a fixed port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.messages: list[Message] = []
        self.changed = threading.Condition()
        self.hang, self.in_data, self.release = threading.Event(), threading.Event(), threading.Event()
        self._controller: Controller | None = None

    def start(self) -> None:
        self._controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def wait_for(self, count: int, timeout: float) -> bool:
        """Whether ``count`` messages have arrived within ``timeout`` seconds."""
        with self.changed:
            return self.changed.wait_for(lambda: len(self.messages) >= count, timeout)

    def to(self, recipient: str) -> list[Message]:
        return [m for m in self.messages if m["To"] == recipient]
