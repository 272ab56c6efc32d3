"""Run an iterator in a background thread with a small bounded queue.

Decoding (PyAV releases the GIL) then overlaps with detection and the models
on the other core, while the bounded queue keeps memory constant.
"""
from __future__ import annotations

import queue
import threading
from typing import Iterable, Iterator, TypeVar

T = TypeVar("T")
_END = object()


def prefetch(iterable: Iterable[T], size: int = 8) -> Iterator[T]:
    """Yield the items of ``iterable`` produced ahead by a daemon thread; re-raise its exceptions here."""
    q: queue.Queue = queue.Queue(maxsize=size)
    stop = threading.Event()

    def worker() -> None:
        try:
            for item in iterable:
                while not stop.is_set():
                    try:
                        q.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(_END)
        except BaseException as exc:  # handed to the consumer
            q.put(exc)

    thread = threading.Thread(target=worker, name="vidaffect-decode", daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():
            try:
                q.get_nowait()
            except queue.Empty:
                thread.join(timeout=0.05)
