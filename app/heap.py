"""The heap of a long-running process."""

from __future__ import annotations

import gc


def settle_heap() -> None:
    """Once a long-running process has started (a web worker, the engine): what start-up built
    lives as long as the process, so it leaves the garbage collector's sight. A full collection
    (after a request that built many objects: a status page with 90 days of bars) then walks only
    what requests made, not the whole application: the page's p99 fell from 145 to 19 ms
    (bench/status_render.py)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


# The young generation is collected every 20,000 net allocations, not every 700 (Python's
# default): a full collection comes after a hundred young ones, and it walks every object the
# process holds that start-up did not, a crowd of live viewers' sockets and greenlets included
# (5,000 viewers: 0.7-0.9 s, seen as the slowest events to all of them, bench/live.py). At 700, a
# web worker under load ran one every few seconds; at 20,000 one every few minutes. Garbage in
# cycles waits longer (up to 20,000 objects); everything else is freed as it always is, at once.
GC_THRESHOLDS = (20_000, 10, 10)
