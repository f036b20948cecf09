"""Background delivery: mail jobs run on a worker thread, after the request has answered.

"Forgot password" and "resend activation" must take the same time whether or
not the username exists. Sending (an SMTP conversation, an outbox insert)
costs time only for a real account, so the service hands every such request
one job, a delivery or an equal no-op, to a :class:`~provider_identity.ports.DeliveryQueue`
and answers at once. :class:`BackgroundDelivery` runs the jobs on one daemon
thread, started with the first job and ended after ``idle_timeout`` seconds
without work, so a service made per request leaves no thread behind.

Call :meth:`BackgroundDelivery.close` at shutdown: jobs still queued when the
process exits without it are lost (the user can ask again). A job runs on the
worker thread, so its mailer must not use a request's database connection.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from provider_identity.ports import DeliveryQueue

__all__ = ["DEFAULT_IDLE_TIMEOUT", "BackgroundDelivery", "run_job"]

#: Seconds a worker waits for the next job before it ends (the next job starts another).
DEFAULT_IDLE_TIMEOUT = 60.0

_log = logging.getLogger(__name__)

_Job = Callable[[], object]


def run_job(job: _Job) -> None:
    """Run ``job``; an exception is logged by its type only (its text may hold a link)."""
    try:
        job()
    except Exception as err:  # a job's failure is never the caller's
        _log.warning("delivery job failed (%s)", type(err).__name__)


class BackgroundDelivery:
    """A :class:`~provider_identity.ports.DeliveryQueue` on one lazily started worker thread.

    Jobs run one at a time, in the order submitted. Thread-safe; share one
    instance between services if you make a service per request.

    Args:
        idle_timeout: Seconds without a job after which the worker ends.
        name: The worker thread's name.
    """

    def __init__(
        self,
        *,
        idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
        name: str = "provider-identity-delivery",
    ) -> None:
        self.idle_timeout = idle_timeout
        self.name = name
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._pending = 0  # submitted, not finished
        self._worker: threading.Thread | None = None

    def submit(self, job: _Job) -> None:
        """Queue ``job`` and return at once; start the worker if none runs."""
        with self._lock:
            self._jobs.put(job)
            self._pending += 1
            if self._worker is None:
                self._worker = threading.Thread(target=self._work, name=self.name, daemon=True)
                self._worker.start()

    def join(self, timeout: float | None = None) -> bool:
        """Wait until every job submitted so far has run; False if ``timeout`` ran out first."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout=timeout)

    def close(self, timeout: float | None = None) -> bool:
        """Run what is queued, then end the worker (graceful shutdown). Submitting later is fine.

        Returns:
            False if ``timeout`` ran out first.
        """
        if not self.join(timeout):
            return False
        with self._lock:
            worker = self._worker
            if worker is not None:
                self._jobs.put(None)
        if worker is not None:
            worker.join(timeout)
            return not worker.is_alive()
        return True

    def _work(self) -> None:
        while True:
            try:
                job = self._jobs.get(timeout=self.idle_timeout)
            except queue.Empty:
                job = None
            if job is None:  # idle, or told to stop: end unless work came in meanwhile
                with self._lock:
                    if self._pending == 0:
                        self._worker = None
                        return
                continue
            run_job(job)
            del job  # what it held (a whole message) is freed here, before join() returns
            with self._idle:
                self._pending -= 1
                if self._pending == 0:
                    self._idle.notify_all()


if TYPE_CHECKING:  # mypy checks here that the class satisfies its port

    def _port() -> DeliveryQueue:
        return BackgroundDelivery()
