"""paused_gc: the cyclic garbage collector held off while a worker decodes and writes a batch of records."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused_gc() -> Iterator[None]:
    """Decoding a delivery allocates hundreds of thousands of dicts and records, none in a reference cycle
    (reference counting frees them all); each allocation burst would otherwise start collections that walk every
    live object (decoding took 2.5x as long; the export worker, about an eighth more CPU). The switch is
    process-wide: nested or concurrent uses leave the collector on once the first one that found it on is done."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
