"""Compiled inner loops (numba), loaded in a background thread so no request waits for them.

A loop is compiled on first use and its machine code cached on disk (`cache=True`: next to its
module, or numba's user cache where that is read-only, or `NUMBA_CACHE_DIR`); a new process
loads it (≈ 0.7 s with numba's import) instead of compiling it (≈ 1 s). Both happen in a thread
of the process's own, started by the first call for a given set of argument types; until it is
ready, the caller computes the same result another way (numpy). numba is imported on first use,
not with this module: CLI commands that never search do not pay for it.

    kernel = BackgroundKernel(python_function, "tm-some-loop", fastmath=False)
    compiled = kernel.ready_for(signature, warm_up)   # None: not (yet) ready, use numpy
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Hashable
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

# numba colours the messages of the typing errors it meets while compiling (routinely, as it
# tries overloads) with colorama, which swaps sys.stdout and sys.stderr of the whole process for
# a moment: from a load thread, that sent a CLI command's JSON, printed at that moment, past
# its stdout. Plain messages instead; numba reads this when it is imported (only from here).
os.environ.setdefault("NUMBA_DISABLE_ERROR_MESSAGE_HIGHLIGHTING", "1")


class BackgroundKernel:
    """One numba-compiled function, per argument signature: ready, loading, or failed."""

    def __init__(
        self, function: Callable[..., Any], thread_name: str, *, fastmath: bool = False
    ) -> None:
        self._function = function
        self.thread_name = thread_name
        self._fastmath = fastmath
        self._compiled: Callable[..., Any] | None = None
        self._ready: set[Hashable] = set()
        self._pending: set[Hashable] = set()
        self._failed: set[Hashable] = set()
        self._lock = threading.Lock()  # the sets above: held for a moment by requests
        self._make_lock = threading.Lock()  # held through numba's import, in load threads only

    def ready_for(
        self, signature: Hashable, warm_up: Callable[[Callable[..., Any]], object]
    ) -> Callable[..., Any] | None:
        """The compiled function once it is ready for `signature` (the argument types);
        until then None, after starting (once) a thread that calls `warm_up(compiled)` with
        small arguments of those types. A failed load is logged once and not retried."""
        if signature in self._ready:
            return self._compiled_function()
        with self._lock:
            if signature in self._pending or signature in self._failed:
                return None
            self._pending.add(signature)

        def load() -> None:
            try:
                warm_up(self._compiled_function())
                with self._lock:
                    self._ready.add(signature)
            except Exception:  # numba missing or broken here: numpy from then on
                logger.exception("%s is not available; numpy instead.", self.thread_name)
                with self._lock:
                    self._failed.add(signature)
            finally:
                with self._lock:
                    self._pending.discard(signature)

        threading.Thread(target=load, name=self.thread_name, daemon=True).start()
        return None

    def wait(self, timeout: float | None = None) -> None:
        """Wait for the loads started so far (tests, benchmarks)."""
        for thread in threading.enumerate():
            if thread.name == self.thread_name:
                thread.join(timeout)

    def _compiled_function(self) -> Callable[..., Any]:
        if self._compiled is not None:
            return self._compiled
        with self._make_lock:
            if self._compiled is not None:
                return self._compiled
            from numba import njit

            try:
                self._compiled = njit(cache=True, nogil=True, fastmath=self._fastmath)(
                    self._function
                )
            except RuntimeError:
                # No writable cache folder (read-only install, no usable $HOME and no
                # NUMBA_CACHE_DIR): compile in each process instead (≈ 1 s, in the background).
                self._compiled = njit(cache=False, nogil=True, fastmath=self._fastmath)(
                    self._function
                )
            return self._compiled


def sample_like(array: np.ndarray, values: list[int]) -> np.ndarray:
    """A small array of `values` with the dtype and writeability of `array`: what a warm-up
    compiles a loop with, so the load never holds on to a request's own arrays."""
    sample = np.array(values, dtype=array.dtype)
    sample.setflags(write=array.flags.writeable)
    return sample
