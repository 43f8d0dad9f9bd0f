"""A thread pool for one request per item that a stop request cancels: queued work never starts, in-flight work ends."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import TypeVar

from hashdeploy.backends.base import Tick
from hashdeploy.publish import interrupt

T = TypeVar("T")
POLL = 0.2  # seconds between looks at the stop request while requests are in flight


def run_parallel(one: Callable[[T], None], items: Sequence[T], workers: int, tick: Tick) -> None:
    """Call `one(item)` for every item, `workers` at a time; raise the first failure (or the stop request) once
    the requests in flight have ended, without starting any of those still queued."""
    if not items:
        return

    def guarded(item: T) -> None:
        interrupt.checkpoint()  # a request dequeued after a stop request is never sent
        one(item)

    pool = ThreadPoolExecutor(max_workers=max(1, min(workers, len(items))), thread_name_prefix="hashdeploy")
    try:
        pending: set[Future[None]] = {pool.submit(guarded, item) for item in items}
        while pending:
            done, pending = wait(pending, timeout=POLL, return_when=FIRST_COMPLETED)
            for future in done:
                future.result()
                tick(1)
            interrupt.checkpoint()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
