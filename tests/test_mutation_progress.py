"""Import progress at its edges: first and last moments, tiny and overfull files, the frames.

Written for mutation testing of progress.py: every figure below is worked
out by hand from the injected clock and the bytes read, so a changed
formula, bound or column shows.
"""

from __future__ import annotations

import io
import re
import threading

import pytest

from provider_identity.ports import ImportProgress
from provider_identity.progress import (
    PlainProgress,
    RichProgress,
    format_duration,
    progress_display,
)
from tests.test_progress import Terminal, Ticks


class Flushes(io.StringIO):
    """A stream that counts its flushes."""

    def __init__(self) -> None:
        super().__init__()
        self.flushes = 0

    def flush(self) -> None:
        self.flushes += 1
        super().flush()


def plain(total: int, ticks: Ticks, *, interval: float = 1.0) -> tuple[PlainProgress, io.StringIO]:
    stream = io.StringIO()
    return PlainProgress(
        stream=stream, total_bytes=total, interval=interval, monotonic=ticks
    ), stream


def rows(n: int, *, done: bool = False) -> ImportProgress:
    return ImportProgress(rows=n, loaded=n, rejected=0, done=done)


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(-5, "0:00:00"), (1.5, "0:00:02"), (120, "0:02:00"), (3599, "0:59:59"), (3600, "1:00:00")],
)
def test_format_duration_never_goes_below_zero_and_rounds_up(seconds: float, shown: str) -> None:
    """A negative estimate prints as zero, a part second counts whole, an hour rolls over."""
    assert format_duration(seconds) == shown


def test_done_at_once_reports_no_rate_and_no_time() -> None:
    """Done the moment it started: 0 rows/s (not a division by zero), done in 0:00:00."""
    ticks = Ticks()
    display, _ = plain(0, ticks)
    assert display.line(rows(10, done=True)) == (
        "10 rows (10 loaded, 0 rejected), 0 rows/s, done in 0:00:00"
    )


def test_a_clock_that_steps_back_counts_as_no_time() -> None:
    """Elapsed time is never negative: a clock stepped back gives 0 rows/s."""
    ticks = Ticks()
    display, _ = plain(0, ticks)
    ticks.now -= 5
    assert display.line(rows(10, done=True)).endswith(", 0 rows/s, done in 0:00:00")


def test_the_rate_within_the_first_second() -> None:
    """Half a second for 10 rows is 20 rows/s."""
    ticks = Ticks()
    display, _ = plain(0, ticks)
    ticks.now += 0.5
    assert display.line(rows(10)) == "10 rows (10 loaded, 0 rejected), 20 rows/s"


def test_nothing_read_yet_gives_no_share_or_time_left() -> None:
    """A known size but no byte read: rows and rate only."""
    ticks = Ticks()
    display, _ = plain(1000, ticks)
    ticks.now += 1
    assert display.line(rows(3)) == "3 rows (3 loaded, 0 rejected), 3 rows/s"


def test_bytes_read_of_an_unknown_size_give_no_share() -> None:
    """Size unknown (0) while bytes are read: still no share and no time left."""
    ticks = Ticks()
    display, _ = plain(0, ticks)
    list(display.count([b"x" * 50]))
    ticks.now += 1
    assert display.line(rows(3)) == "3 rows (3 loaded, 0 rejected), 3 rows/s"


def test_a_one_byte_file_read_whole() -> None:
    """The smallest file: 1 of 1 byte read is 100% with nothing left."""
    ticks = Ticks()
    display, _ = plain(1, ticks)
    list(display.count([b"x"]))
    ticks.now += 2
    assert display.line(rows(1)).endswith(", 100% read, about 0:00:00 left")


def test_a_whole_file_read_leaves_no_time_even_after_long() -> None:
    """10 of 10 bytes after 10 s: 100% read, 0:00:00 left (not a second more)."""
    ticks = Ticks()
    display, _ = plain(10, ticks)
    list(display.count([b"x" * 4, b"x" * 6]))
    ticks.now += 10
    assert display.line(rows(20)) == (
        "20 rows (20 loaded, 0 rejected), 2 rows/s, 100% read, about 0:00:00 left"
    )


def test_a_file_that_grew_past_its_size_leaves_no_time() -> None:
    """More bytes read than the size said: the time left stays 0, never negative."""
    ticks = Ticks()
    display, _ = plain(10, ticks)
    list(display.count([b"x" * 20]))
    ticks.now += 10
    assert display.line(rows(20)).endswith(", 200% read, about 0:00:00 left")


def test_a_line_comes_when_exactly_the_interval_has_passed() -> None:
    """interval=5: nothing at 4.9 s, a line at 5 s, none again until 10 s."""
    ticks = Ticks()
    display, stream = plain(0, ticks, interval=5.0)
    ticks.now += 4.9
    display(rows(1))
    assert stream.getvalue() == ""
    ticks.now += 0.1
    display(rows(2))
    assert stream.getvalue() == "2 rows (2 loaded, 0 rejected), 0 rows/s\n"
    ticks.now += 4.9
    display(rows(3))
    assert stream.getvalue().count("\n") == 1


def test_every_line_is_flushed() -> None:
    """A line reaches a log or a pipe at once: each printed line is flushed."""
    ticks, stream = Ticks(), Flushes()
    display = PlainProgress(stream=stream, interval=1.0, monotonic=ticks)
    display(rows(1, done=True))
    assert stream.getvalue().count("\n") == 1
    assert stream.flushes >= 1


def rich(total: int, ticks: Ticks) -> tuple[RichProgress, io.StringIO]:
    stream = io.StringIO()
    return RichProgress(
        stream=stream, total_bytes=total, monotonic=ticks, force_terminal=True
    ), stream


def frames(stream: io.StringIO) -> list[str]:
    """Each frame the bar drew, as its words: colours, the bar itself and runs of space gone."""
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", stream.getvalue())
    return [" ".join(re.sub("[━╺╸]", "", frame).split()) for frame in plain.split("\r")]


def test_the_bar_draws_its_columns_in_order() -> None:
    """importing, the bar, the share, rows, rows/s and the time left: first at zero, then moved."""
    ticks = Ticks()
    bar, stream = rich(1000, ticks)
    assert frames(stream) == ["importing 0% 0 rows 0 rows/s -:--:-- left"]
    list(bar.count([b"x" * 250]))
    ticks.now += 5
    bar(rows(20_000))
    bar.close()
    assert frames(stream)[-1] == "importing 25% 20,000 rows 4,000 rows/s 0:00:15 left"
    assert "━" in stream.getvalue()


def test_the_bar_of_an_unknown_size_shows_no_time_left() -> None:
    """Size unknown: after a report the time left stays -:--:--."""
    ticks = Ticks()
    bar, stream = rich(0, ticks)
    list(bar.count([b"x" * 10]))
    ticks.now += 2
    bar(rows(8))
    drawn = stream.getvalue()
    bar.close()
    assert "8 rows" in drawn
    assert "4 rows/s" in drawn
    assert "-:--:-- left" in drawn.rsplit("8 rows", 1)[1]


def test_the_last_frame_says_nothing_is_left_even_if_the_estimate_said_more() -> None:
    """Done with half the bytes counted: the bar ends at 0:00:00 left, not the 0:00:04 estimate."""
    ticks = Ticks()
    bar, stream = rich(10, ticks)
    list(bar.count([b"x" * 5]))
    ticks.now += 4
    bar(rows(5, done=True))
    last = stream.getvalue().rsplit("5 rows", 1)[1]
    assert "0:00:00 left" in last
    assert "0:00:04" not in last


def test_the_bar_draws_only_when_reported_to() -> None:
    """No refresh thread: the bar changes only on a report (time is the caller's)."""
    before = set(threading.enumerate())
    bar, _ = rich(10, Ticks())
    started = set(threading.enumerate()) - before
    bar.close()
    assert started == set()


def test_the_chosen_display_knows_the_file_size() -> None:
    """progress_display passes the size on: a quarter read shows as 25% on both displays."""
    ticks = Ticks()
    terminal = Terminal()
    bar = progress_display(terminal, 1000, monotonic=ticks)
    lines = bar.count([b"x" * 250] * 4)
    next(lines)
    ticks.now += 1
    bar(rows(10))
    bar.close()
    assert frames(terminal)[-1] == "importing 25% 10 rows 10 rows/s 0:00:03 left"

    pipe = io.StringIO()
    display = progress_display(pipe, 1000, monotonic=ticks)
    lines = display.count([b"x" * 250] * 4)
    next(lines)
    ticks.now += 1
    display(rows(10, done=False))
    ticks.now += 10
    display(rows(10, done=False))
    assert "25% read" in pipe.getvalue()
