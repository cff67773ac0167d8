"""The CronJob controller's notion of time, injectable.

Cron schedules are in wall-clock minutes, which no timing profile can shrink. The controller
reads time only through a ``Clock``:

- ``WallClock``: real time (the default);
- ``AcceleratedClock``: time running ``rate`` times faster from the moment it was made (the
  control plane's start), for tests and demos that want a ``* * * * *`` CronJob to fire every
  second (rate 60). Timestamps read from objects the API server stamped in real time
  (creationTimestamp) are mapped onto it, and waits are converted back to real seconds, so the
  schedule logic is unchanged. Set with ``KEMU_CRONJOB_CLOCK_RATE`` (see docs/batch.md);
- ``ManualClock``: set and advanced by hand, for unit tests running days of schedules at once.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import Protocol

CLOCK_RATE_ENV = "KEMU_CRONJOB_CLOCK_RATE"


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the epoch, in the controller's time."""
        ...

    def from_real(self, moment: float) -> float:
        """A real moment (an API timestamp) in the controller's time."""
        ...

    def real_delay(self, seconds: float) -> float:
        """How many real seconds pass while ``seconds`` of the controller's time do."""
        ...


class WallClock:
    def now(self) -> float:
        return time.time()

    def from_real(self, moment: float) -> float:
        return moment

    def real_delay(self, seconds: float) -> float:
        return seconds


class AcceleratedClock:
    def __init__(self, rate: float, anchor: float | None = None):
        if rate <= 0:
            raise ValueError(f"clock rate must be positive, got {rate}")
        self.rate = rate
        self.anchor = time.time() if anchor is None else anchor

    def now(self) -> float:
        return self.from_real(time.time())

    def from_real(self, moment: float) -> float:
        return self.anchor + (moment - self.anchor) * self.rate

    def real_delay(self, seconds: float) -> float:
        return seconds / self.rate


class ManualClock:
    def __init__(self, now: float = 1_700_000_000.0):
        self.moment = now

    def now(self) -> float:
        return self.moment

    def from_real(self, moment: float) -> float:
        return moment

    def real_delay(self, seconds: float) -> float:
        return seconds

    def advance(self, seconds: float) -> None:
        self.moment += seconds

    def set(self, moment: float) -> None:
        self.moment = moment


def clock_from_environment(environ: Mapping[str, str] | None = None) -> Clock:
    """``AcceleratedClock`` when ``KEMU_CRONJOB_CLOCK_RATE`` is set to something other than 1."""
    env: Mapping[str, str] = os.environ if environ is None else environ
    raw = env.get(CLOCK_RATE_ENV, "").strip()
    if not raw:
        return WallClock()
    try:
        rate = float(raw)
    except ValueError:
        raise ValueError(f"{CLOCK_RATE_ENV}={raw!r} is not a number") from None
    if rate == 1.0:
        return WallClock()
    return AcceleratedClock(rate)
