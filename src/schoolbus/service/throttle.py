"""Sign-in throttling per account and per address, and a bound on concurrent Argon2 checks.

After :data:`FREE_ACCOUNT_FAILURES` failed sign-ins of one account (or
:data:`FREE_ADDRESS_FAILURES` from one address) within :data:`WINDOW_S`, each further attempt
must wait: :data:`BASE_DELAY_S` doubled per extra failure, at most :data:`MAX_DELAY_S`. An attempt
made while waiting is refused without checking the password (so the right password after fifty
wrong ones does not work at once) and answered 429 with ``Retry-After``. A success clears the
account's failures (not the address's).

Argon2 takes 64 MiB and tens of milliseconds per check; at most :data:`MAX_CONCURRENT_HASHES` run
at once, so forty parallel sign-ins cannot take a gigabyte.

The counters live in the server's memory (one process serves the API): a restart forgets them,
which only ever helps a legitimate user.
"""

from __future__ import annotations

import math
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field

WINDOW_S = 15 * 60
FREE_ACCOUNT_FAILURES = 5
FREE_ADDRESS_FAILURES = 20
BASE_DELAY_S = 30.0
MAX_DELAY_S = 15 * 60.0
MAX_CONCURRENT_HASHES = 4
MAX_TRACKED_KEYS = 100_000
"""Accounts and addresses remembered at once; beyond, those without a recent failure are forgotten."""

hash_slots = threading.BoundedSemaphore(MAX_CONCURRENT_HASHES)
"""Held around every Argon2 hash or check (see :mod:`schoolbus.service.auth`)."""


class TooManyAttempts(Exception):
    """Sign-in refused for now (HTTP 429); ``retry_after_s`` says when to try again."""

    def __init__(self, retry_after_s: float):
        super().__init__(f"too many failed sign-ins: try again in {math.ceil(retry_after_s)} s")
        self.retry_after_s = retry_after_s


@dataclass
class _Failures:
    times: list[float] = field(default_factory=list)


class LoginThrottle:
    """Failure counters by account and by address (see the module docstring)."""

    def __init__(self, clock=time.monotonic):
        self._clock = clock
        self._lock = threading.Lock()
        self._accounts: dict[str, _Failures] = defaultdict(_Failures)
        self._addresses: dict[str, _Failures] = defaultdict(_Failures)

    def _wait_s(self, failures: _Failures, free: int, now: float) -> float:
        failures.times = [t for t in failures.times if now - t < WINDOW_S]
        extra = len(failures.times) - free
        if extra < 0:
            return 0.0
        delay = min(BASE_DELAY_S * 2**extra, MAX_DELAY_S)
        return max(0.0, failures.times[-1] + delay - now)

    def check(self, username: str, address: str | None) -> None:
        """Raise :class:`TooManyAttempts` while the account or the address must wait."""
        now = self._clock()
        with self._lock:
            wait = self._wait_s(self._accounts[username.lower()], FREE_ACCOUNT_FAILURES, now)
            if address:
                wait = max(wait, self._wait_s(self._addresses[address], FREE_ADDRESS_FAILURES, now))
        if wait > 0:
            raise TooManyAttempts(wait)

    def failed(self, username: str, address: str | None) -> None:
        now = self._clock()
        with self._lock:
            for table in (self._accounts, self._addresses):
                if len(table) >= MAX_TRACKED_KEYS:
                    for key in [k for k, f in table.items() if not f.times or now - f.times[-1] >= WINDOW_S]:
                        del table[key]
            self._accounts[username.lower()].times.append(now)
            if address:
                self._addresses[address].times.append(now)

    def succeeded(self, username: str) -> None:
        with self._lock:
            self._accounts.pop(username.lower(), None)
