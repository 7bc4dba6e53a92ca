"""Cold start: no cyclic garbage collection while a function's modules load; what they built is frozen after.

Loading boto3, Powertools and a handler allocates hundreds of thousands of objects, and CPython's
collector walks them all again on every full collection it triggers along the way: measured on the
build results function, half of what its cold start adds to a bare boto3 import (bench/). None of
those objects is garbage: modules, classes and service models live as long as the process. So
imports run with the collector off, then `gc.freeze()` moves everything into the permanent
generation, which later collections (during invocations too) skip.

`TRACED` is what every function's Tracer patches: botocore, the only library through which the
functions call out (boto3 rides on it; pygit2's network calls are native and unpatchable). Tracer's
default patches every library X-Ray knows, importing requests, httplib, sqlite3 and more to do so:
about 50 ms of a cold start for subsegments no function would ever record (bench/).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

TRACED = ("botocore",)


@contextmanager
def collector_paused() -> Iterator[None]:
    """Run the block (a handler module's imports) without garbage collection, then freeze what exists."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()
