"""Background delivery: the enumeration-sensitive flows return before any mail is sent."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from email.message import EmailMessage

import pytest

from provider_identity import BackgroundDelivery, IdentityService
from provider_identity.testing import InlineDelivery, RecordingMailer
from tests.helpers import practitioner


class StalledRelay(RecordingMailer):
    """A mailer that hangs until the test lets it go (a relay that stalls)."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.entered = threading.Event()

    def send(self, message: EmailMessage) -> None:
        self.entered.set()
        assert self.release.wait(timeout=30)
        super().send(message)


@pytest.fixture
def background() -> Iterator[BackgroundDelivery]:
    delivery = BackgroundDelivery()
    yield delivery
    delivery.close()


def test_jobs_run_in_order_on_another_thread(background: BackgroundDelivery) -> None:
    """Every job runs once, in submission order, off the caller's thread; join waits for them."""
    seen: list[tuple[int, str]] = []
    for n in range(50):
        background.submit(lambda n=n: seen.append((n, threading.current_thread().name)))
    assert background.join(timeout=10)
    assert [n for n, _ in seen] == list(range(50))
    assert {name for _, name in seen} == {"provider-identity-delivery"}


def test_a_failing_job_is_logged_by_type_and_the_next_one_runs(
    background: BackgroundDelivery, caplog: pytest.LogCaptureFixture
) -> None:
    """A job's exception never reaches the caller; the log names its type, never its text."""
    done = threading.Event()

    def failing() -> None:
        raise RuntimeError("token=secret-value")

    with caplog.at_level(logging.WARNING, logger="provider_identity.delivery"):
        background.submit(failing)
        background.submit(done.set)
        assert background.join(timeout=10)
    assert done.is_set()
    assert "RuntimeError" in caplog.text
    assert "secret-value" not in caplog.text


def test_close_stops_the_worker_and_a_later_job_starts_it_again(
    background: BackgroundDelivery,
) -> None:
    """close() drains the queue and ends the thread; the queue stays usable afterwards."""
    ran: list[int] = []
    workers: list[threading.Thread] = []
    background.submit(lambda: (ran.append(1), workers.append(threading.current_thread())))
    assert background.close(timeout=10)
    assert ran == [1]
    assert not workers[0].is_alive()
    background.submit(lambda: ran.append(2))
    assert background.join(timeout=10)
    assert ran == [1, 2]


def test_an_idle_worker_ends_and_the_next_job_starts_a_new_one() -> None:
    """No thread outlives its work for long: per-request services do not pile up threads."""
    delivery = BackgroundDelivery(idle_timeout=0)
    threads: list[threading.Thread] = []
    for _ in range(3):
        delivery.submit(lambda: threads.append(threading.current_thread()))
        assert delivery.join(timeout=10)
        threads[-1].join(timeout=10)
        assert not threads[-1].is_alive()
    assert len(threads) == 3


def test_inline_delivery_runs_at_once_and_counts() -> None:
    """The test double runs each job in the caller's thread before submit returns."""
    delivery = InlineDelivery()
    ran: list[str] = []
    delivery.submit(lambda: ran.append(threading.current_thread().name))
    assert (ran, delivery.submitted) == ([threading.current_thread().name], 1)


@pytest.mark.parametrize("call", ["request_password_reset", "resend_activation"])
def test_a_stalled_relay_never_holds_the_request(
    make_service: Callable[..., IdentityService],
    mailer: RecordingMailer,
    background: BackgroundDelivery,
    call: str,
) -> None:
    """Known and unknown usernames both return while the relay hangs; the mail follows."""
    make_service().register(practitioner())
    mailer.clear()
    relay = StalledRelay()
    service = make_service(mailer=relay, delivery=background)
    getattr(service, call)("jdoe")
    assert relay.entered.wait(timeout=10)  # the relay holds the known user's message ...
    getattr(service, call)("nobody")  # ... and the next request returns all the same
    assert relay.messages == []
    relay.release.set()
    assert background.join(timeout=10)
    assert [str(m["To"]) for m in relay.messages] == ["jane.doe@example.org"]


def test_close_says_whether_the_queue_finished_in_time() -> None:
    """close() with nothing started is done at once; with a job still blocked it says False."""
    assert BackgroundDelivery().close() is True
    delivery = BackgroundDelivery()
    release = threading.Event()
    delivery.submit(lambda: release.wait(timeout=30))
    assert delivery.close(timeout=0.01) is False
    release.set()
    assert delivery.close(timeout=10) is True
