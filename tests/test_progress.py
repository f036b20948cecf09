"""Import progress: the callback of import_roster, plain lines, the rich bar, and the choice."""

from __future__ import annotations

import io

import pytest

from provider_identity.adapters.memory import MemoryProviderDirectory
from provider_identity.ports import ImportProgress
from provider_identity.progress import (
    PlainProgress,
    RichProgress,
    format_duration,
    progress_display,
)
from provider_identity.roster import import_roster

HEADER = b"provider_id,tax_id,name,zip_codes\n"


def roster(good: int, bad: int = 0) -> list[bytes]:
    """A roster of ``good`` distinct rows, then ``bad`` rows with a short Tax ID."""
    rows = [f"P{n},311234567,Name {n},45402\n".encode() for n in range(good)]
    rows += [f"B{n},3112,Bad {n},45402\n".encode() for n in range(bad)]
    return [HEADER, *rows]


class Ticks:
    """A monotonic clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Terminal(io.StringIO):
    """A text stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def test_import_roster_reports_after_each_batch_and_once_when_done() -> None:
    """The callback sees running totals per batch, then the final totals with done=True."""
    seen: list[ImportProgress] = []
    report = import_roster(
        roster(5, bad=2), MemoryProviderDirectory(), batch_size=2, progress=seen.append
    )
    assert [(p.rows, p.loaded, p.rejected, p.done) for p in seen] == [
        (2, 2, 0, False),
        (4, 4, 0, False),
        (7, 5, 2, True),
    ]
    assert (report.loaded, len(report.rejected)) == (5, 2)


def test_import_roster_without_a_callback_loads_the_same() -> None:
    """progress is optional: the same records load without it."""
    directory = MemoryProviderDirectory()
    assert import_roster(roster(3), directory).loaded == 3
    assert directory.by_provider_id("P2") is not None


def test_plain_progress_prints_at_most_one_line_per_interval_and_a_last_one() -> None:
    """Calls within the interval print nothing; the done call always prints."""
    ticks, stream = Ticks(), io.StringIO()
    display = PlainProgress(stream=stream, total_bytes=1000, interval=10.0, monotonic=ticks)
    lines = display.count([b"x" * 100] * 10)
    for _ in range(4):
        next(lines)  # 400 of 1000 bytes read
    ticks.now += 4
    display(ImportProgress(rows=40_000, loaded=39_990, rejected=10))
    assert stream.getvalue() == ""
    ticks.now += 6
    display(ImportProgress(rows=100_000, loaded=99_990, rejected=10))
    assert stream.getvalue() == (
        "100,000 rows (99,990 loaded, 10 rejected), 10,000 rows/s, 40% read, about 0:00:15 left\n"
    )
    ticks.now += 1
    display(ImportProgress(rows=110_000, loaded=109_990, rejected=10, done=True))
    assert stream.getvalue().splitlines()[-1] == (
        "110,000 rows (109,990 loaded, 10 rejected), 10,000 rows/s, done in 0:00:11"
    )


def test_plain_progress_without_a_size_gives_no_time_left() -> None:
    """A file of unknown size (0) gets rows and rate, and no share read or time left."""
    ticks, stream = Ticks(), io.StringIO()
    display = PlainProgress(stream=stream, total_bytes=0, interval=1.0, monotonic=ticks)
    ticks.now += 2
    display(ImportProgress(rows=10, loaded=10, rejected=0))
    assert stream.getvalue() == "10 rows (10 loaded, 0 rejected), 5 rows/s\n"


def test_count_passes_lines_through_unchanged() -> None:
    """The byte counter changes nothing in the lines it hands on."""
    display = PlainProgress(stream=io.StringIO(), monotonic=Ticks())
    assert list(display.count([b"a\n", b"bc\n"])) == [b"a\n", b"bc\n"]


def test_rich_progress_draws_rows_rate_and_time_left() -> None:
    """The bar shows rows done, rows per second and the time left from the unread share."""
    ticks, stream = Ticks(), io.StringIO()
    display = RichProgress(stream=stream, total_bytes=1000, monotonic=ticks, force_terminal=True)
    lines = display.count([b"x" * 250] * 4)
    next(lines)  # a quarter read
    ticks.now += 5
    display(ImportProgress(rows=20_000, loaded=20_000, rejected=0))
    drawn = stream.getvalue()
    display.close()
    assert "20,000 rows" in drawn
    assert "4,000 rows/s" in drawn
    assert "0:00:15 left" in drawn
    assert "25%" in drawn


def test_rich_progress_ends_at_zero_time_left() -> None:
    """The done call draws the final totals and stops the bar."""
    ticks, stream = Ticks(), io.StringIO()
    with RichProgress(stream=stream, total_bytes=10, monotonic=ticks, force_terminal=True) as bar:
        list(bar.count([b"x" * 10]))
        ticks.now += 1
        bar(ImportProgress(rows=3, loaded=3, rejected=0, done=True))
    assert "0:00:00 left" in stream.getvalue()
    assert "3 rows" in stream.getvalue()


def test_a_terminal_gets_the_bar_and_anything_else_plain_lines() -> None:
    """With rich installed, a terminal gets RichProgress; a pipe gets 10-second plain lines."""
    bar = progress_display(Terminal(), 10, monotonic=Ticks())
    assert isinstance(bar, RichProgress)
    bar.close()
    plain = progress_display(io.StringIO(), 10, monotonic=Ticks())
    assert isinstance(plain, PlainProgress)
    assert plain.interval == 10.0


def test_a_terminal_without_rich_gets_plain_lines_every_second(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """If rich cannot be imported, a terminal still gets progress, as plain lines."""
    import sys

    monkeypatch.setitem(sys.modules, "rich.progress", None)
    display = progress_display(Terminal(), 10, monotonic=Ticks())
    assert isinstance(display, PlainProgress)
    assert display.interval == 1.0


def test_rich_progress_without_rich_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """Building the bar without rich says which pip install brings it."""
    import sys

    monkeypatch.setitem(sys.modules, "rich.console", None)
    with pytest.raises(ImportError, match=r"provider-identity\[progress\]"):
        RichProgress(stream=io.StringIO())


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(0, "0:00:00"), (0.2, "0:00:01"), (59, "0:00:59"), (61, "0:01:01"), (3725, "1:02:05")],
)
def test_format_duration(seconds: float, shown: str) -> None:
    """Durations print as H:MM:SS, partial seconds rounded up."""
    assert format_duration(seconds) == shown


def test_progress_comes_every_10000_rows_even_when_no_batch_is_written() -> None:
    """A source that skips most rows still reports as it reads (NPPES enriching a roster)."""
    from provider_identity.roster import SkippedRow, import_records

    items = [SkippedRow(line=n, reason="not_in_plan") for n in range(25_000)]
    seen: list[ImportProgress] = []
    report = import_records(items, MemoryProviderDirectory(), progress=seen.append)
    assert [(p.rows, p.done) for p in seen] == [(10_000, False), (20_000, False), (25_000, True)]
    assert report.skipped == 25_000
