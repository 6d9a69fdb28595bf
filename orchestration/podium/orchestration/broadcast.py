"""A one-shot wake-up for every waiter, re-armed after each notify."""

from __future__ import annotations

import anyio


class Broadcast:
    """Wakes every waiter once per notify; waiters take the event *before* looking, so none is missed."""

    def __init__(self) -> None:
        self._event = anyio.Event()

    @property
    def current(self) -> anyio.Event:
        return self._event

    def notify(self) -> None:
        self._event.set()
        self._event = anyio.Event()
