"""Where page and document tasks run: a local process pool, or a Dask cluster.

Both offer the same three calls (`submit`, `wait_some`, `close`), so the coordinator does not
care which one it drives. Tasks are plain picklable functions of picklable arguments that read
inputs from and write outputs to shared storage, so a Dask cluster needs only a shared file
system between the coordinator and the workers.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any, Protocol

from digitize.errors import BadInput, MissingSoftware

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3


def _worker_init() -> None:
    # One Tesseract thread per process: OpenMP threads in parallel processes thrash the CPU.
    os.environ["OMP_THREAD_LIMIT"] = "1"
    _return_freed_memory()


def _return_freed_memory() -> None:
    """Make glibc give freed page-sized buffers back to the system at once.

    By default glibc raises its mmap threshold after the first large free, so later page
    buffers (tens of MB each) come from the heap and stay in the worker's RSS after use.
    A fixed threshold keeps every large buffer in its own mapping, returned when freed.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc (macOS, musl): nothing to tune
        return
    libc.mallopt(M_MMAP_THRESHOLD, 1 << 20)
    libc.mallopt(M_TRIM_THRESHOLD, 8 << 20)


class Executor(Protocol):
    workers: int

    def submit(self, fn: Callable[..., Any], *args: Any) -> Any: ...

    def wait_some(self, pending: Iterable[Any]) -> list[Any]:
        """Block until at least one of `pending` is finished; return the finished ones."""
        ...

    def result(self, handle: Any) -> Any: ...

    def close(self) -> None: ...


class LocalExecutor:
    """A pool of worker processes on this machine; each loads the OCR models once."""

    def __init__(self, workers: int):
        self.workers = workers
        context = multiprocessing.get_context("forkserver")
        self.pool = ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_worker_init)

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        return self.pool.submit(fn, *args)

    def wait_some(self, pending: Iterable[Future]) -> list[Future]:
        done, _ = wait(list(pending), return_when=FIRST_COMPLETED)
        return list(done)

    def result(self, handle: Future) -> Any:
        return handle.result()

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


class DaskExecutor:
    """Tasks on a Dask distributed cluster (`--scheduler tcp://host:8786`, or a local one)."""

    def __init__(self, scheduler: str | None, workers: int):
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise MissingSoftware("Dask is not installed: pip install 'digitize[cluster]'") from None
        if scheduler:
            self.cluster = None
            self.client = Client(scheduler)
        else:
            self.cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True)
            self.client = Client(self.cluster)
        self.client.run(_worker_init)
        self.workers = sum(w["nthreads"] for w in self.client.scheduler_info()["workers"].values()) or workers

    def submit(self, fn: Callable[..., Any], *args: Any) -> Any:
        return self.client.submit(fn, *args, pure=False)

    def wait_some(self, pending: Iterable[Any]) -> list[Any]:
        from distributed import wait as dask_wait

        done, _ = dask_wait(list(pending), return_when="FIRST_COMPLETED")
        return list(done)

    def result(self, handle: Any) -> Any:
        return handle.result()

    def close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


def make_executor(kind: str, workers: int, scheduler: str | None = None) -> Executor:
    if kind == "local":
        return LocalExecutor(workers)
    if kind == "dask":
        return DaskExecutor(scheduler, workers)
    raise BadInput(f"unknown executor {kind!r} (local or dask)")
