"""Where a worker's processor time goes, by pipeline stage, measured by sampling.

Timing every stage of every packet would cost more than some stages do. Instead a profiling timer
(``ITIMER_PROF``: it runs only while the process runs, so idle waits count nothing) interrupts the
worker ``SAMPLE_HZ`` times a second, and the sample goes to the stage of the innermost frame of
Fathom's code on the stack: reading the ring, decoding, flow tracking, stream reassembly,
application identification and logs, rule matching, or writing events. As profilers do, the
seconds per stage are estimates; over a minute they are exact to a few percent.
"""

from __future__ import annotations

import signal
from types import FrameType

SAMPLE_HZ = 100
# Module prefixes and their stage, the more specific first.
_STAGES = (
    ("fathom.capture", "capture"),
    ("fathom.decode", "decode"),
    ("fathom.flow.stream", "stream"),
    ("fathom.flow", "flow"),
    ("fathom.apps", "app"),
    ("fathom.rules", "detect"),
    ("fathom.events", "output"),
    ("fathom.manager", "output"),
    ("fathom.sensor", "sensor"),
)
STAGES = (*dict.fromkeys(stage for _, stage in _STAGES), "other")


def stage_of(frame: FrameType | None) -> str:
    """The stage of the innermost frame of Fathom's code, from ``frame`` outwards."""
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if module.startswith("fathom."):
            for prefix, stage in _STAGES:
                if module.startswith(prefix):
                    return stage
        frame = frame.f_back
    return "other"


class StageSampler:
    """Processor seconds per stage (:attr:`seconds`), from the moment :meth:`start` is called, in
    the process's main thread."""

    __slots__ = ("interval", "seconds")

    def __init__(self, hz: int = SAMPLE_HZ) -> None:
        self.interval = 1.0 / hz
        self.seconds: dict[str, float] = dict.fromkeys(STAGES, 0.0)

    def start(self) -> None:
        signal.signal(signal.SIGPROF, self._sample)
        signal.setitimer(signal.ITIMER_PROF, self.interval, self.interval)

    def stop(self) -> None:
        signal.setitimer(signal.ITIMER_PROF, 0, 0)
        signal.signal(signal.SIGPROF, signal.SIG_DFL)

    def _sample(self, signum: int, frame: FrameType | None) -> None:
        self.seconds[stage_of(frame)] += self.interval
