"""What ``make grade`` prints while it runs: one line per step, time so far, and a heartbeat in long silences."""

from __future__ import annotations

import threading
import time
from typing import Callable

from coursekit.pipeline import report as rep

__all__ = ["Progress", "HEARTBEAT_SECONDS"]


#: Seconds of silence after which the progress printer says what is going on.
HEARTBEAT_SECONDS = 30.0


class Progress:
    """Prints ``[mm:ss] message`` lines and a heartbeat while a long step is silent.

    Everything ``make grade`` prints goes through here, student data included (error messages, stderr,
    cell ids): terminal controls are shown escaped (:func:`coursekit.pipeline.report.terminal_safe`).

    Parameters
    ----------
    out : callable
        Receives each line (default :func:`print` with flush).
    """

    def __init__(self, out: Callable[[str], None] | None = None):
        self.start = time.monotonic()
        self._out = out or (lambda line: print(line, flush=True))
        self._last = self.start
        self._lock = threading.Lock()
        self.status = ""

    def elapsed(self) -> str:
        """Time since the start, ``m:ss``."""
        s = int(time.monotonic() - self.start)
        return f"{s // 60:d}:{s % 60:02d}"

    def __call__(self, message: str) -> None:
        with self._lock:
            self._last = time.monotonic()
            self._out(rep.terminal_safe(f"[{self.elapsed():>5}] {message}"))

    def plain(self, text: str) -> None:
        """Print ``text`` without a time stamp."""
        with self._lock:
            self._last = time.monotonic()
            self._out(rep.terminal_safe(text))

    def heartbeat(self, every: float = HEARTBEAT_SECONDS):
        """Context manager: while it is open, say ``self.status`` after ``every`` s of silence."""
        progress = self

        class _Beat:
            def __enter__(self):
                self.stop = threading.Event()
                self.thread = threading.Thread(target=self.run, daemon=True, name="progress-heartbeat")
                self.thread.start()
                return self

            def run(self):
                while not self.stop.wait(1.0):
                    if time.monotonic() - progress._last >= every and progress.status:
                        progress(f"... {progress.status}")

            def __exit__(self, *exc):
                self.stop.set()
                self.thread.join(5)
                return False

        return _Beat()
