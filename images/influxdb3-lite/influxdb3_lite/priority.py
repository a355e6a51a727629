"""Writes yield the cores to queries: a thread that serves a write runs at a lower CPU priority.

Under a fleet's concurrent load (20 writer and 4 reader processes on two cores, the bench's), a
query needs ~10 ms of CPU, most of it in DataFusion and in the kernel sending its batches, little
of it under the GIL; it still took 15 times that, because every thread of the server and every
client process had the same share of the cores, and the writes took three quarters of the
server's. A thread that has served a write runs at nice WRITE_NICE from then on: it yields the core
to a query that is ready to run and takes every cycle no query wants (on an idle machine a nice
value changes nothing). The bench, alternated with the server before in one window (two pairs):
loaded query p50 236 and 165 ms before, 65 and 70 ms after; write p50 27 and 26 ms before, 27 and
29 ms after, with fewer writes per second (what the writers' closed loop gives up to the queries).

A thread can raise its own nice value but not lower it again without CAP_SYS_NICE, which a
container lacks: an HTTP connection that wrote keeps the lower priority for what it asks next.
Handing each write to a few threads started at the lower priority instead cost two more thread
wake-ups per write: the loaded write p50 rose from 27 to 120 ms.
"""

from __future__ import annotations

import os
import sys
import threading

WRITE_NICE = 5  # CFS weight 335 against a query thread's 1024
_lowered = threading.local()


def serve_writes_behind_queries() -> None:
    """Lower the calling thread's CPU priority to WRITE_NICE, once per thread (Linux: setpriority on
    a thread id is per thread; elsewhere it would renice the whole process, so it is left alone)."""
    if getattr(_lowered, "done", False) or sys.platform != "linux":
        return
    _lowered.done = True
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), WRITE_NICE)
    except OSError:
        pass  # a sandbox that forbids it: the writes run at the default priority
