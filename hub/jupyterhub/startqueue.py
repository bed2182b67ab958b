"""The queue of students' server starts: a class logging in at once waits its turn instead of
getting the hub's 429 page.

At most ``slots`` starts run at once (each costs the machine CPU: a home written, a server
forked or started); the others wait in the order they asked, each told her place. A slot is
handed straight to the first in line when one is released, so nobody who comes later gets
ahead. A waiter that is cancelled, or told to leave (``leave``), is out of the line at once.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import OrderedDict
from collections.abc import Hashable


class StartQueue:
    """FIFO of server starts, ``slots`` at a time; keys are whatever names one start (a spawner)."""

    def __init__(self, slots: int, first_guess: float = 10.0):
        if slots < 1:
            raise ValueError("a start queue needs at least one slot")
        self.slots = slots
        self._running: dict[Hashable, float] = {}  # key -> when its turn came (monotonic)
        self._waiting: OrderedDict[Hashable, asyncio.Future] = OrderedDict()
        self._changed = asyncio.Event()
        # seconds a start holds its slot, smoothed over the last ones: the wait's estimate
        self.typical_start = first_guess

    # --- reading ---------------------------------------------------------------

    def place(self, key: Hashable) -> int:
        """1 for the next in line, 2 behind her ...; 0 for a key not waiting."""
        for number, waiting in enumerate(self._waiting, 1):
            if waiting == key:
                return number
        return 0

    def holds(self, key: Hashable) -> bool:
        return key in self._running

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    @property
    def running(self) -> int:
        return len(self._running)

    def estimate(self, place: int) -> int:
        """Seconds until place ``place`` gets its turn, rounded up to 5 s: each round of
        ``slots`` starts takes a typical start's time."""
        if place < 1:
            return 0
        rounds = math.ceil(place / self.slots)
        return max(5, 5 * math.ceil(rounds * self.typical_start / 5))

    def change_event(self) -> asyncio.Event:
        """The event the next change of the line sets (someone came, left or got her turn): take
        it before reading the line, so that no change is missed."""
        return self._changed

    # --- taking part -------------------------------------------------------------

    async def turn(self, key: Hashable) -> None:
        """Wait for a slot: at once if one is free and nobody waits, else in line.

        Cancelled (the spawn was stopped) or told to leave, the key is out of the line; a slot
        that was handed to it meanwhile goes to the next in line."""
        if key in self._running or key in self._waiting:
            raise RuntimeError(f"{key!r} is already in the start queue")
        if len(self._running) < self.slots and not self._waiting:
            self._take(key)
            return
        ticket = asyncio.get_running_loop().create_future()
        self._waiting[key] = ticket
        self._notify()
        try:
            await ticket
        except BaseException:
            if self._waiting.pop(key, None) is not None:
                self._notify()
            elif key in self._running:  # handed a slot just as it was cancelled
                self.release(key, measured=False)
            raise

    def leave(self, key: Hashable, reason: BaseException) -> bool:
        """Take a waiting key out of the line; its ``turn`` raises ``reason``. False if it was not waiting."""
        ticket = self._waiting.pop(key, None)
        if ticket is None:
            return False
        if not ticket.done():
            ticket.set_exception(reason)
        self._notify()
        return True

    def release(self, key: Hashable, measured: bool = True) -> None:
        """The start of ``key`` is over (ready, failed or stopped): its slot goes to the next in line.
        Releasing a key that holds no slot does nothing."""
        began = self._running.pop(key, None)
        if began is None:
            return
        if measured:
            self.typical_start = 0.7 * self.typical_start + 0.3 * (time.monotonic() - began)
        while self._waiting and len(self._running) < self.slots:
            next_key, ticket = self._waiting.popitem(last=False)
            if ticket.done():  # cancelled, its turn() cleans up
                continue
            self._take(next_key)
            ticket.set_result(None)
        self._notify()

    def _take(self, key: Hashable) -> None:
        self._running[key] = time.monotonic()
        self._notify()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()
