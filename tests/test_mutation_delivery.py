"""Background delivery: the log line, the daemon worker, and the timeouts of join and close.

Written for mutation testing of delivery.py: each test pins something the
module documents and the older tests left loose (the words of the log line,
that the worker is a daemon, that a timeout is honoured rather than ignored).
A call that might hang is made on a helper thread, so a broken timeout fails
the test instead of stalling the suite.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import pytest

from provider_identity.delivery import BackgroundDelivery, run_job


def returns_within(call: Callable[[], bool], seconds: float = 5.0) -> bool | None:
    """``call()``'s answer if it comes within ``seconds``; None if it is still waiting."""
    answers: list[bool] = []
    helper = threading.Thread(target=lambda: answers.append(call()), daemon=True)
    helper.start()
    helper.join(seconds)
    return answers[0] if answers else None


def test_a_failed_job_logs_one_warning_naming_only_the_error_type(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The line reads "delivery job failed (KeyError)", at WARNING, without the error's text."""

    def failing() -> None:
        raise KeyError("https://portal.example/reset?token=secret")

    with caplog.at_level(logging.DEBUG, logger="provider_identity.delivery"):
        run_job(failing)
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (logging.WARNING, "delivery job failed (KeyError)")
    ]


def test_a_job_that_succeeds_logs_nothing(caplog: pytest.LogCaptureFixture) -> None:
    """Only failures are logged."""
    ran: list[int] = []
    with caplog.at_level(logging.DEBUG, logger="provider_identity.delivery"):
        run_job(lambda: ran.append(1))
    assert (ran, caplog.records) == ([1], [])


def test_the_worker_is_a_daemon_thread_with_the_given_name() -> None:
    """A worker never keeps the process alive at exit; it carries the name it was given."""
    delivery = BackgroundDelivery(name="mail-worker")
    seen: list[tuple[str, bool]] = []

    def note() -> None:
        worker = threading.current_thread()
        seen.append((worker.name, worker.daemon))

    delivery.submit(note)
    assert delivery.close(timeout=10)
    assert seen == [("mail-worker", True)]


def test_join_with_nothing_submitted_is_done_at_once() -> None:
    """Nothing pending: join(timeout=0) is True."""
    assert BackgroundDelivery().join(timeout=0) is True


def test_join_gives_up_after_its_timeout_while_a_job_runs() -> None:
    """A job still running: join(timeout) answers False when the timeout ends."""
    delivery = BackgroundDelivery()
    release = threading.Event()
    delivery.submit(lambda: release.wait(timeout=30))
    try:
        assert returns_within(lambda: delivery.join(timeout=0.05)) is False
    finally:
        release.set()
    assert delivery.join(timeout=10) is True


def test_join_waits_for_every_job_submitted() -> None:
    """With two jobs queued, join returns only once both have run."""
    delivery = BackgroundDelivery()
    release = threading.Event()
    ran: list[int] = []
    delivery.submit(lambda: release.wait(timeout=30))
    delivery.submit(lambda: ran.append(2))
    assert returns_within(lambda: delivery.join(timeout=0.05)) is False
    release.set()
    assert delivery.join(timeout=10) is True
    assert ran == [2]
    assert delivery.close(timeout=10)


class LateJob(BackgroundDelivery):
    """A queue that is handed one more (blocking) job just after its jobs drained."""

    def __init__(self, release: threading.Event) -> None:
        super().__init__()
        self.release = release
        self.late = False

    def join(self, timeout: float | None = None) -> bool:
        done = super().join(timeout)
        if done and not self.late:
            self.late = True
            self.submit(lambda: self.release.wait(timeout=30))
        return done


def test_close_gives_up_after_its_timeout_while_the_worker_is_busy() -> None:
    """A job that came in as close() began: close(timeout) answers False, then True once done."""
    release = threading.Event()
    delivery = LateJob(release)
    try:
        assert returns_within(lambda: delivery.close(timeout=0.05)) is False
    finally:
        release.set()
    assert delivery.close(timeout=10) is True


def test_the_idle_condition_and_submit_share_one_lock() -> None:
    """The worker's count and submit() must take the same lock, or their updates race.

    No deterministic run shows the race itself, so this checks the invariant:
    holding the idle condition holds the lock submit() takes.
    """
    delivery = BackgroundDelivery()
    with delivery._idle:
        assert delivery._lock.locked()
    assert not delivery._lock.locked()
