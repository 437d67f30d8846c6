"""Run the (variant, sample) calls on a Dask distributed cluster.

``execution.executor: dask`` with ``execution.address: tcp://host:8786`` submits every
model call to that scheduler; without an address a small ``LocalCluster`` bound to
127.0.0.1 is started for the run and closed after it. Only the calls travel: a worker
rebuilds the model from its spec (``run_call``), and the results come back to this
process, which alone writes the call cache and MLflow, so cache and resume behave as
with the thread executor.

Dask pays off when the time goes into waiting (remote endpoints, many machines). Local
llama.cpp models are CPU-bound: on one machine they gain nothing from more workers.
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import os
import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from workbench.errors import ConfigError
from workbench.runner._calls import run_call
from workbench.spec import ExecutionSpec

PROCESSES_ENV = "WORKBENCH_DASK_PROCESSES"
"""``0`` runs the local cluster's worker as threads of this process (no pickling, shares
in-process registries such as ``workbench.testing`` scripts); default ``1``: one worker
process, as on a real cluster."""


class DaskExecutor(cf.Executor):
    """A ``concurrent.futures.Executor`` over a Dask client, with at most ``max_in_flight``
    tasks on the cluster at once (``execution.concurrency``: a provider's rate limit does
    not grow with the cluster). ``submit`` never blocks: the excess waits here, in order.

    A task lost with its worker (``KilledWorker``, a closed connection) becomes a failed
    ``Generation`` for ``run_call``: a failed call is data, the grid goes on."""

    def __init__(self, client: Any, max_in_flight: int):
        self.client = client
        self._inner = client.get_executor(pure=False)
        self._max = max(1, max_in_flight)
        self._lock = threading.Lock()
        self._waiting: deque[tuple[cf.Future[Any], Callable[..., Any], tuple[Any, ...]]] = deque()
        self._running = 0
        self._closed = False

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> cf.Future[Any]:
        if kwargs:
            raise TypeError("DaskExecutor.submit takes positional arguments only")
        outer: cf.Future[Any] = cf.Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("cannot schedule new futures after shutdown")
            self._waiting.append((outer, fn, args))
        self._pump()
        return outer

    def _pump(self) -> None:
        """Move waiting calls to the cluster while there is room."""
        while True:
            with self._lock:
                if self._running >= self._max or not self._waiting:
                    return
                outer, fn, args = self._waiting.popleft()
                self._running += 1
            if not outer.set_running_or_notify_cancel():  # cancelled while it waited
                self._release()
                continue
            try:
                inner = self._inner.submit(fn, *args)
            except BaseException as exc:  # settled here, in the loop: no recursion
                self._settle(outer, fn, None, exc, pump=False)
                continue
            inner.add_done_callback(lambda done, o=outer, f=fn: self._settle(o, f, done, None))

    def _release(self) -> None:
        with self._lock:
            self._running -= 1

    def _settle(
        self,
        outer: cf.Future[Any],
        fn: Callable[..., Any],
        done: cf.Future[Any] | None,
        error: BaseException | None,
        *,
        pump: bool = True,
    ) -> None:
        if done is not None:
            error = cf.CancelledError() if done.cancelled() else done.exception()
        self._release()
        if error is None:
            assert done is not None
            outer.set_result(done.result())
        elif fn is run_call:
            from workbench.models import Generation

            outer.set_result(Generation.failed(f"dask: {type(error).__name__}: {error}"))
        else:
            outer.set_exception(error)
        if pump:
            self._pump()

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._lock:
            self._closed = True
            dropped = list(self._waiting) if cancel_futures else []
            if cancel_futures:
                self._waiting.clear()
        for outer, _fn, _args in dropped:
            outer.cancel()
        self._inner.shutdown(wait=wait and not cancel_futures)


def _reachable(address: str) -> None:
    """Fail in seconds, not after the client's connect timeout, when nothing listens."""
    import socket
    from urllib.parse import urlparse

    parsed = urlparse(address if "://" in address else f"tcp://{address}")
    if parsed.scheme not in ("tcp", "tls") or not parsed.hostname:
        return  # other transports (ucx, inproc ...): let distributed judge
    try:
        socket.create_connection((parsed.hostname, parsed.port or 8786), timeout=5).close()
    except OSError as exc:
        raise ConfigError(
            f"execution.address: cannot reach the Dask scheduler {address} ({exc})",
            hint="start it (`dask scheduler`, then `dask worker <address>` on each machine) "
            "or fix execution.address",
        ) from None


def _processes() -> bool:
    return os.environ.get(PROCESSES_ENV, "1").strip().lower() not in ("0", "false", "no")


@contextmanager
def dask_executor(execution: ExecutionSpec) -> Iterator[cf.Executor]:
    """An executor on the cluster at ``execution.address``, or on a local one."""
    try:
        from distributed import Client, LocalCluster
    except ModuleNotFoundError:
        raise ConfigError(
            "execution.executor 'dask' needs dask's distributed scheduler",
            hint='pip install "dask[distributed]"',
        ) from None

    if execution.address:
        _reachable(execution.address)
        try:
            client = Client(execution.address, timeout="30s", set_as_default=False)
        except OSError as exc:
            raise ConfigError(
                f"execution.address: cannot reach the Dask scheduler {execution.address} ({exc})",
                hint="start it (`dask scheduler`, then `dask worker <address>`) or fix execution.address",
            ) from None
        try:
            yield DaskExecutor(client, execution.concurrency)
        finally:
            client.close()
        return

    # One worker, `concurrency` threads: a 2-core machine has no room for more, and a local
    # llama.cpp model is loaded once per worker process.
    processes = _processes()
    where = {"host": "127.0.0.1"} if processes else {}  # threads talk in-process: no socket
    cluster = LocalCluster(
        n_workers=1,
        threads_per_worker=execution.concurrency,
        processes=processes,
        dashboard_address=None,
        silence_logs=logging.ERROR,
        **where,
    )
    try:
        client = Client(cluster, set_as_default=False)
        try:
            yield DaskExecutor(client, execution.concurrency)
        finally:
            client.close()
    finally:
        cluster.close()
