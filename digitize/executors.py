"""Where tasks run: a local process pool, or a Dask cluster; and what happens when a worker dies.

Both executors offer the same calls, so the coordinator does not care which one it drives:
`window()` (how many tasks to keep in flight now), `check_paths`, `submit`, `wait_some`,
`outcome` and `close`. Tasks are plain picklable functions of picklable arguments that read
inputs from and write outputs to shared storage.

Failures are contained here, and said plainly:
- `outcome(handle)` is the task's value, or `Lost(reason)` when the task could not finish:
  its worker died (Dask's `KilledWorker` after the scheduler's allowed failures; the local
  pool's `BrokenProcessPool`), or it was cancelled. The coordinator fails that task's document
  with the reason; the batch goes on.
- A local pool breaks as a whole when one worker dies, and cannot say which task killed it.
  Every task that was running is then rerun alone, one at a time, in a fresh pool: a task
  whose worker dies while it runs alone is the culprit (`Lost`); the others finish normally.
- A lost scheduler (the client cannot reach it any more) raises `Interrupted` (exit 5): the
  run stops, what workers committed is kept, and a rerun adopts it.
- Worker processes die with the coordinator (`die_with`): the local pool's workers, and the
  workers of a Dask cluster the coordinator starts itself, SIGKILL themselves when the
  coordinator process ends, however it ends; the forkserver and the resource tracker then
  exit on their own (they live only as long as a process holds their pipes).
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import select
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, CancelledError, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any, Protocol

from digitize.errors import BadInput, Interrupted, MissingSoftware

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
WINDOW_PER_THREAD = 2  # tasks in flight per worker thread: one running, one queued
WINDOW_REFRESH_S = 1.0  # how often the Dask window is recomputed from the cluster's threads
PRELOAD = ["digitize.jobs"]  # imported once by the forkserver, so new workers start at once


def _worker_init() -> None:
    # One Tesseract thread per process: OpenMP threads in parallel processes thrash the CPU.
    os.environ["OMP_THREAD_LIMIT"] = "1"
    _return_freed_memory()


def _pool_worker_init(coordinator: int) -> None:
    die_with(coordinator)
    _worker_init()


def die_with(pid: int) -> None:
    """SIGKILL this process as soon as process `pid` (the coordinator) ends, however it ends.

    A daemon thread waits on a pidfd of the coordinator (readable when it exits; no polling,
    no confusion with a reused pid); without pidfd support it checks once a second. The
    parent-death signal (PR_SET_PDEATHSIG) is not enough: pool workers are children of the
    forkserver, and the forkserver only exits once all of its children have.
    """

    def watch() -> None:
        try:
            fd = os.pidfd_open(pid)
        except (AttributeError, OSError):  # an old kernel, or the coordinator is already gone
            while _alive(pid):
                time.sleep(1.0)
        else:
            select.select([fd], [], [])
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watch, name=f"die-with-{pid}", daemon=True).start()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


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


def check_paths(paths: list[str]) -> str | None:
    """On a worker: None when every path is an absolute folder this worker can write to, else why not."""
    for path in paths:
        if not os.path.isabs(path):
            return f"{path}: not an absolute path"
        if not os.path.isdir(path):
            return f"{path}: no such folder on this worker (is the shared storage mounted here?)"
        if not os.access(path, os.R_OK | os.X_OK):
            return f"{path}: not readable on this worker"
    return None


@dataclass(frozen=True)
class Lost:
    """A task that could not finish; `reason` says why ("worker died 3 times", "cancelled", ...)."""

    reason: str


class Executor(Protocol):
    local: bool  # a pool on this machine (page-level tasks pay off for small batches)

    def window(self) -> int:
        """How many tasks to keep in flight now."""
        ...

    def check_paths(self, readable: list[str], writable: list[str]) -> None:
        """BadInput unless every worker sees these absolute folders (and can write the writable ones)."""
        ...

    def submit(self, fn: Callable[..., Any], *args: Any) -> Any: ...

    def wait_some(self, pending: Iterable[Any], timeout: float | None = None) -> list[Any]:
        """Block until one of `pending` is finished (or `timeout` passed); return the finished ones."""
        ...

    def outcome(self, handle: Any) -> Any:
        """The task's value, or `Lost`; raises `Interrupted` when the cluster is gone."""
        ...

    def cancel(self, handle: Any) -> None: ...

    def close(self, interrupted: bool = False) -> None: ...


def _check_here(readable: list[str], writable: list[str]) -> None:
    problem = _worker_check_paths(readable, writable)
    if problem:
        raise BadInput(problem)


# ------------------------------------------------------------------------------ local pool
@dataclass(eq=False)
class _LocalTask:
    """A task of the local pool, as the coordinator holds it; it survives a restart of the pool."""

    fn: Callable[..., Any]
    args: tuple[Any, ...]
    future: Future | None = None
    alone: bool = False  # to be rerun alone, after its pool broke under it
    deaths: int = 0
    result: Any = field(default=None)
    finished: bool = False


class LocalExecutor:
    """A pool of worker processes on this machine; each loads the OCR models once."""

    local = True

    def __init__(self, workers: int):
        self.workers = workers
        self._context = multiprocessing.get_context("forkserver")
        self._context.set_forkserver_preload(PRELOAD)
        self.pool = self._new_pool()
        self._queue: deque[_LocalTask] = deque()  # submitted, not started yet
        self._running: set[_LocalTask] = set()
        self._abandoned: list[_LocalTask] = []  # cancelled while a worker ran them (timed out, say)

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=self._context,
            initializer=_pool_worker_init,
            initargs=(os.getpid(),),
        )

    def window(self) -> int:
        return max(2, self.workers * WINDOW_PER_THREAD)

    def check_paths(self, readable: list[str], writable: list[str]) -> None:
        _check_here(readable, writable)

    def submit(self, fn: Callable[..., Any], *args: Any) -> _LocalTask:
        task = _LocalTask(fn, args)
        self._queue.append(task)
        self._start_queued()
        return task

    def _start_queued(self) -> None:
        """Start queued tasks; while a task must run alone, only it runs."""
        if any(t.alone for t in self._running):
            return
        suspect = next((t for t in self._queue if t.alone), None)
        if suspect is not None:
            if not self._running:
                self._queue.remove(suspect)
                self._start(suspect)
            return
        while self._queue:
            self._start(self._queue.popleft())

    def _start(self, task: _LocalTask) -> None:
        task.future = self.pool.submit(task.fn, *task.args)
        self._running.add(task)

    def wait_some(self, pending: Iterable[_LocalTask], timeout: float | None = None) -> list[_LocalTask]:
        pending = list(pending)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            finished = [t for t in pending if t.finished]
            if finished:
                return finished
            futures = [t.future for t in self._running if t.future is not None]
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not futures or left == 0.0:
                return []
            done, _ = wait(futures, timeout=left, return_when=FIRST_COMPLETED)
            self._collect(done)

    def _collect(self, done: set[Future]) -> None:
        broken: list[_LocalTask] = []
        for task in [t for t in self._running if t.future in done]:
            assert task.future is not None
            error = task.future.exception()
            if isinstance(error, BrokenProcessPool):
                broken.append(task)
                continue
            self._running.discard(task)
            task.finished = True
            task.result = error if error is not None else task.future.result()
        if broken:
            self._pool_broke(broken)
        self._start_queued()

    def _pool_broke(self, broken: list[_LocalTask]) -> None:
        """A worker died: the pool is gone. Rerun the tasks it took with it, each alone."""
        self.pool.shutdown(wait=False, cancel_futures=True)
        others = [t for t in self._running if t not in broken]  # running, not yet reported broken
        self._running.clear()
        self.pool = self._new_pool()
        lost_together = [*broken, *others]
        for task in lost_together:
            task.deaths += 1
            if task.alone or len(lost_together) == 1:
                task.finished = True
                task.result = Lost(f"worker died {task.deaths} times")
            else:
                task.alone = True
                self._queue.appendleft(task)

    def outcome(self, handle: _LocalTask) -> Any:
        if isinstance(handle.result, BaseException):
            raise handle.result
        return handle.result

    def cancel(self, handle: _LocalTask) -> None:
        """Stop waiting for a task (its worker finishes it; nothing reads the result; `close`
        stops the worker if it still runs it then)."""
        if handle in self._running:
            self._running.discard(handle)
            self._abandoned.append(handle)
        if handle in self._queue:
            self._queue.remove(handle)
        handle.finished = True
        handle.result = Lost("cancelled")

    def close(self, interrupted: bool = False) -> None:
        """Shut the pool down; its workers are stopped at once when the run was interrupted or a
        cancelled task still runs (a hung page would otherwise keep the run from ending)."""
        stop_now = interrupted or any(t.future is not None and not t.future.done() for t in self._abandoned)
        if stop_now:  # do not wait for running pages: stop the workers now
            for process in list(getattr(self.pool, "_processes", {}).values()):  # no public API before 3.14
                process.kill()
        self.pool.shutdown(wait=not stop_now, cancel_futures=True)


# ------------------------------------------------------------------------------ Dask
class DaskExecutor:
    """Tasks on a Dask distributed cluster (`--scheduler tcp://host:8786`, or a local one)."""

    local = False

    def __init__(self, scheduler: str | None, workers: int):
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise MissingSoftware("Dask is not installed: pip install 'digitize[cluster]'") from None
        if scheduler:
            self.cluster = None
            try:
                self.client = Client(scheduler, timeout="30s")
            except OSError as exc:
                raise Interrupted(f"cannot reach the Dask scheduler {scheduler}: {exc}") from None
            self.client.run(_worker_init)
        else:
            self.cluster = LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
            )
            self.client = Client(self.cluster)
            self.client.run(_pool_worker_init, os.getpid())  # workers of our own cluster die with us
        self._results: dict[Any, Any] = {}  # gathered, not yet asked for
        self._window = 0
        self._window_checked = 0.0

    def window(self) -> int:
        """Twice the threads the cluster has now (workers that join later get work too)."""
        now = time.monotonic()
        if now - self._window_checked > WINDOW_REFRESH_S:
            self._window_checked = now
            info = self.client.scheduler_info(n_workers=-1)
            threads = sum(w.get("nthreads", 1) for w in info.get("workers", {}).values())
            self._window = max(2, threads * WINDOW_PER_THREAD)
        return self._window

    def check_paths(self, readable: list[str], writable: list[str]) -> None:
        answers = self.client.run(_worker_check_paths, readable, writable)
        problems = [f"worker {worker}: {problem}" for worker, problem in sorted(answers.items()) if problem]
        if problems:
            raise BadInput("; ".join(problems))

    def submit(self, fn: Callable[..., Any], *args: Any) -> Any:
        return self.client.submit(fn, *args, pure=False)

    def wait_some(self, pending: Iterable[Any], timeout: float | None = None) -> list[Any]:
        """Also fetches the finished tasks' results in one round trip, straight from the workers
        (`direct`: the scheduler does not relay manifests)."""
        from distributed import wait as dask_wait

        pending = list(pending)
        try:
            done, _ = dask_wait(pending, timeout=timeout, return_when="FIRST_COMPLETED")
        except TimeoutError:
            return []
        except (CancelledError, OSError):  # futures cancelled because the scheduler went away
            self._require_scheduler()
            return [f for f in pending if f.done()]
        finished = [f for f in done if f.status == "finished"]
        if len(finished) > 1:  # one round trip for all results instead of one per task
            try:
                self._results.update(zip(finished, self.client.gather(finished, direct=True)))
            except (CancelledError, OSError):
                self._require_scheduler()
        return list(done)

    def _gather(self, handle: Any) -> Any:
        """A finished task's value; `Interrupted` when the scheduler went away while it was fetched."""
        try:
            return self.client.gather(handle, direct=True)
        except (CancelledError, OSError):
            self._require_scheduler()
            raise

    def _require_scheduler(self) -> None:
        if self.client.status != "running":
            raise Interrupted("lost the connection to the Dask scheduler")

    def outcome(self, handle: Any) -> Any:
        from distributed import KilledWorker

        if handle in self._results:
            return self._results.pop(handle)
        if handle.status == "finished":
            return self._gather(handle)
        if handle.status == "cancelled":
            self._require_scheduler()
            return Lost("cancelled")
        error = handle.exception()
        if isinstance(error, KilledWorker):
            allowed = getattr(error, "allowed_failures", None)
            return Lost(f"worker died {allowed + 1} times" if allowed is not None else "worker died")
        return handle.result()  # raises the task's own error

    def cancel(self, handle: Any) -> None:
        handle.cancel()

    def close(self, interrupted: bool = False) -> None:
        try:
            self.client.close(timeout=5 if interrupted else 30)
        finally:
            if self.cluster is not None:
                self.cluster.close(timeout=5 if interrupted else 30)


def _worker_check_paths(readable: list[str], writable: list[str]) -> str | None:
    problem = check_paths([*readable, *writable])
    if problem is None:
        problem = next((f"{p}: not writable on this worker" for p in writable if not os.access(p, os.W_OK)), None)
    return problem


def make_executor(kind: str, workers: int, scheduler: str | None = None) -> Executor:
    if kind == "local":
        return LocalExecutor(workers)
    if kind == "dask":
        return DaskExecutor(scheduler, workers)
    raise BadInput(f"unknown executor {kind!r} (local or dask)")


__all__ = ["DaskExecutor", "Executor", "LocalExecutor", "Lost", "die_with", "make_executor"]
