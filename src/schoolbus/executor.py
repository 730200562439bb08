"""One way to fan out independent work: in this process, in a local process pool, or on Dask.

Stages hand an executor a top-level function, the items to apply it to and, optionally, one
``shared`` value every call needs (a plan, solver parameters). The executor returns the results in
the items' order whatever finished first, so a plan never depends on how many workers made it.

- :class:`SerialExecutor` runs everything in this process (the default of the Python API).
- :class:`ProcessExecutor` runs a pool of local worker processes (the CLI's default: every core).
  A pool lives for one ``map`` call, so worker memory is returned after each stage. (Workers are
  not recycled after a number of tasks: Python 3.11's ``max_tasks_per_child`` can leave the pool
  waiting forever for a replacement worker that never starts, which hung 10,000-pupil plans.)
- :class:`DaskExecutor` sends the same tasks to a Dask distributed cluster: an existing one by
  scheduler address, or a ``LocalCluster`` it starts itself.

The module knows nothing of the domain; it sits below every stage that uses it.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from contextlib import contextmanager
from typing import Any, Protocol, TypeVar

from schoolbus.errors import InputError, Problem

S = TypeVar("S")
T = TypeVar("T")
R = TypeVar("R")

ProgressFn = Callable[[int, int], None]
"""``progress(done, total)``, called in the calling process as results arrive."""

EXECUTORS = ("local", "dask")
"""What ``--executor`` accepts: a local process pool, or a Dask distributed cluster."""

DASK_SCHEDULER_ENV = "SCHOOLBUS_DASK_SCHEDULER"
"""Names a running Dask scheduler for the service's planning jobs and the CLI's ``--scheduler``."""

PRELOAD_MODULES = ("schoolbus.routing.solve", "schoolbus.outputs.sheets")
"""Imported once by the fork server, so each new worker starts with them loaded (about 2 s saved
per worker)."""


class Executor(Protocol):
    """Runs ``fn(shared, item)`` for every item and returns the results in the items' order."""

    n_workers: int

    def map(
        self,
        fn: Callable[[S, T], R],
        items: Sequence[T],
        shared: S = None,
        *,
        progress: ProgressFn | None = None,
    ) -> list[R]: ...

    def close(self) -> None: ...


def available_cores() -> int:
    """The cores this process may run on (the CPU affinity mask, not the machine's total)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def peak_rss_bytes() -> int:
    """This process's peak resident memory so far, in bytes (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class _ClosingContext:
    """``with executor: ...`` closes it afterwards."""

    def close(self) -> None:
        return None

    def __enter__(self):
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class SerialExecutor(_ClosingContext):
    """Everything in the calling process, in order."""

    n_workers = 1

    def map(self, fn, items, shared=None, *, progress=None):
        results = []
        for item in items:
            results.append(fn(shared, item))
            if progress is not None:
                progress(len(results), len(items))
        return results


# The value every task of the current pool shares, set once per worker by the pool's initializer.
_worker_shared: Any = None


def _set_worker_shared(value: Any) -> None:
    global _worker_shared
    _worker_shared = value


def _call_with_worker_shared(fn: Callable[[Any, T], R], item: T) -> R:
    return fn(_worker_shared, item)


class ProcessExecutor(_ClosingContext):
    """A pool of ``n_workers`` local processes started from a fork server.

    The fork server (not a plain fork) keeps worker processes free of the caller's threads (the
    progress display, solver thread pools), which a fork could copy mid-lock.
    """

    def __init__(self, n_workers: int | None = None) -> None:
        self.n_workers = max(1, n_workers or available_cores())
        self._context = multiprocessing.get_context("forkserver")
        self._context.set_forkserver_preload(list(PRELOAD_MODULES))

    def map(self, fn, items, shared=None, *, progress=None):
        items = list(items)
        if self.n_workers == 1 or len(items) <= 1:
            return SerialExecutor().map(fn, items, shared, progress=progress)
        results: list[Any] = [None] * len(items)
        with ProcessPoolExecutor(
            max_workers=min(self.n_workers, len(items)),
            mp_context=self._context,
            initializer=_set_worker_shared,
            initargs=(shared,),
        ) as pool:
            pending = {pool.submit(_call_with_worker_shared, fn, item): k for k, item in enumerate(items)}
            n_done = 0
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    results[pending.pop(future)] = future.result()
                    n_done += 1
                    if progress is not None:
                        progress(n_done, len(items))
        return results


def _call_with(fn: Callable[[Any, T], R], shared: Any, item: T) -> R:
    return fn(shared, item)


def _worker_peak_rss_bytes() -> int:
    return peak_rss_bytes()


class DaskExecutor(_ClosingContext):
    """Tasks on a Dask distributed cluster: ``scheduler`` (``tcp://host:8786``) or a new LocalCluster.

    The shared value is sent to every worker once (scattered, broadcast); tasks are submitted
    in item order and their results gathered back into it.
    """

    def __init__(self, scheduler: str | None = None, n_workers: int | None = None) -> None:
        from distributed import Client, LocalCluster

        self._cluster = None
        if scheduler:
            self._client = Client(scheduler)
        else:
            self._cluster = LocalCluster(
                n_workers=max(1, n_workers or available_cores()),
                threads_per_worker=1,
                processes=True,
                dashboard_address=":0",
                host="127.0.0.1",
            )
            self._client = Client(self._cluster)
        self.n_workers = max(1, len(self._client.scheduler_info().get("workers", {})) or 1)

    @property
    def scheduler_address(self) -> str:
        return self._client.scheduler.address

    def map(self, fn, items, shared=None, *, progress=None):
        from distributed import as_completed

        items = list(items)
        if not items:
            return []
        shared_ref = self._client.scatter(shared, broadcast=True, hash=False) if shared is not None else None
        futures = [self._client.submit(_call_with, fn, shared_ref, item, pure=False) for item in items]
        index = {f.key: k for k, f in enumerate(futures)}
        results: list[Any] = [None] * len(items)
        for n_done, future in enumerate(as_completed(futures), start=1):
            results[index[future.key]] = future.result()
            if progress is not None:
                progress(n_done, len(items))
        return results

    def worker_peak_rss_bytes(self) -> dict[str, int]:
        """Each worker process's peak resident memory so far, by worker address."""
        return dict(self._client.run(_worker_peak_rss_bytes))

    def close(self) -> None:
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()


def make_executor(kind: str = "local", *, workers: int | None = None, scheduler: str | None = None) -> Executor:
    """The executor the command line or the service asked for.

    Parameters
    ----------
    kind : str
        ``local`` (a process pool, or this process alone with one worker) or ``dask``.
    workers : int, optional
        Local worker processes (default: every core this process may use); with ``dask`` and no
        ``scheduler``, the LocalCluster's worker count.
    scheduler : str, optional
        A running Dask scheduler's address; only with ``dask``.

    Raises
    ------
    InputError
        For an unknown kind, a worker count below 1, or a scheduler without ``dask``.
    """
    problems = []
    if kind not in EXECUTORS:
        problems.append(Problem("command line", None, "--executor", kind, " or ".join(EXECUTORS)))
    if workers is not None and workers < 1:
        problems.append(Problem("command line", None, "--workers", workers, "a whole number of 1 or more"))
    if scheduler and kind != "dask":
        problems.append(Problem("command line", None, "--scheduler", scheduler, "only with --executor dask"))
    if problems:
        raise InputError(problems)
    if kind == "dask":
        return DaskExecutor(scheduler, workers)
    n = workers or available_cores()
    return SerialExecutor() if n == 1 else ProcessExecutor(n)


@contextmanager
def executor_for(kind: str = "local", *, workers: int | None = None, scheduler: str | None = None) -> Iterator[Executor]:
    """:func:`make_executor` as a context: the executor is closed (a LocalCluster stopped) after."""
    executor = make_executor(kind, workers=workers, scheduler=scheduler)
    try:
        yield executor
    finally:
        executor.close()


def executor_from_environment() -> Executor:
    """The service's executor: the Dask cluster ``$SCHOOLBUS_DASK_SCHEDULER`` names, else this process.

    The service already runs each planning job in a process of its own (``--max-jobs`` at once);
    a cluster lets one large job use other machines as well.
    """
    scheduler = os.environ.get(DASK_SCHEDULER_ENV, "").strip()
    return DaskExecutor(scheduler) if scheduler else SerialExecutor()
