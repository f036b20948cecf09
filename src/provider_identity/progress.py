"""Progress of a long import, for people: rows done, rows per second and time left.

:func:`~provider_identity.roster.import_roster` reports to any
:class:`~provider_identity.ports.ImportProgressCallback`. This module has
the two that ``provider-identity import-roster`` uses:

- :class:`RichProgress`, a live bar on a terminal (the ``progress`` extra:
  ``pip install "provider-identity[progress]"``, which installs rich);
- :class:`PlainProgress`, one plain line every few seconds, for logs and
  pipes (and for terminals without rich).

Both read the bytes of the file as they are consumed (:meth:`count`), so
that the time left comes from the part of the file still unread, and time
from an injected ``monotonic`` callable, so tests need no sleeps.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, TextIO

import attrs

from provider_identity.ports import ImportProgress

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

__all__ = [
    "PROGRESS_EXTRA",
    "PlainProgress",
    "RichProgress",
    "format_duration",
    "progress_display",
]

#: What installs the live progress bar.
PROGRESS_EXTRA = 'pip install "provider-identity[progress]"'


def format_duration(seconds: float) -> str:
    """``seconds`` as ``H:MM:SS`` (whole seconds, rounded up: "0:00:01" until done)."""
    whole = max(0, int(-(-seconds // 1)))
    hours, rest = divmod(whole, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"


@attrs.define(kw_only=True)
class _Meter:
    """Bytes read of a file of ``total`` bytes, and when the reading started."""

    total: int
    monotonic: Callable[[], float]
    started: float = attrs.field(init=False)
    read: int = attrs.field(init=False, default=0)

    @started.default
    def _now(self) -> float:
        return self.monotonic()

    def count(self, lines: Iterable[bytes]) -> Iterator[bytes]:
        for line in lines:
            self.read += len(line)
            yield line

    def elapsed(self) -> float:
        return max(self.monotonic() - self.started, 0.0)

    def rate(self, rows: int) -> float:
        elapsed = self.elapsed()
        return rows / elapsed if elapsed > 0 else 0.0

    def seconds_left(self) -> float | None:
        """Time left from the share of the file still unread; None while nothing is known."""
        if self.total <= 0 or self.read <= 0:
            return None
        return self.elapsed() * max(self.total - self.read, 0) / self.read


@attrs.define(kw_only=True)
class PlainProgress:
    """One line per ``interval`` seconds on ``stream``, and a last line when done.

    Example line: ``120,000 rows (119,990 loaded, 10 rejected), 40,000 rows/s,
    60% read, about 0:00:02 left``.

    Attributes:
        stream: Where the lines go (standard error in the command).
        total_bytes: Size of the file, for the share read and the time left (0: unknown).
        interval: Seconds between two lines.
        monotonic: Seconds from any fixed point (``time.monotonic`` by default).
    """

    stream: TextIO
    total_bytes: int = 0
    interval: float = 10.0
    monotonic: Callable[[], float] = time.monotonic
    _meter: _Meter = attrs.field(init=False)
    _last: float = attrs.field(init=False)

    @_meter.default
    def _build_meter(self) -> _Meter:
        return _Meter(total=self.total_bytes, monotonic=self.monotonic)

    @_last.default
    def _started(self) -> float:
        return self._meter.started

    def count(self, lines: Iterable[bytes]) -> Iterator[bytes]:
        """``lines`` unchanged, their bytes counted toward the share read."""
        return self._meter.count(lines)

    def __call__(self, progress: ImportProgress) -> None:
        """Print a line if ``interval`` has passed since the last, or if the import is done."""
        now = self.monotonic()
        if not progress.done and now - self._last < self.interval:
            return
        self._last = now
        print(self.line(progress), file=self.stream, flush=True)

    def line(self, progress: ImportProgress) -> str:
        """The line for ``progress``, as printed."""
        rate = self._meter.rate(progress.rows)
        parts = [
            f"{progress.rows:,} rows ({progress.loaded:,} loaded, {progress.rejected:,} rejected)",
            f"{rate:,.0f} rows/s",
        ]
        if progress.done:
            parts.append(f"done in {format_duration(self._meter.elapsed())}")
        elif (left := self._meter.seconds_left()) is not None:
            share = self._meter.read * 100 // self._meter.total
            parts.append(f"{share}% read, about {format_duration(left)} left")
        return ", ".join(parts)


@attrs.define(kw_only=True)
class RichProgress:
    """A live bar on a terminal: rows done, rows per second, share read and time left.

    Needs rich (the ``progress`` extra). Call :meth:`close` (or use it as a
    context manager) to leave the terminal tidy.

    Attributes:
        stream: The terminal (standard error in the command).
        total_bytes: Size of the file (0: unknown, no bar or time left).
        monotonic: Seconds from any fixed point (``time.monotonic`` by default).
        force_terminal: Draw as on a terminal even if ``stream`` is not one (tests).
    """

    stream: TextIO
    total_bytes: int = 0
    monotonic: Callable[[], float] = time.monotonic
    force_terminal: bool | None = None
    _meter: _Meter = attrs.field(init=False)
    _bar: Progress = attrs.field(init=False)
    _task: TaskID = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        try:
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn
        except ImportError:
            raise ImportError(f"the progress bar needs rich: {PROGRESS_EXTRA}") from None
        self._meter = _Meter(total=self.total_bytes, monotonic=self.monotonic)
        self._bar = Progress(
            TextColumn("importing"),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[rows]:>12,} rows"),
            TextColumn("{task.fields[rate]:>9,.0f} rows/s"),
            TextColumn("{task.fields[left]} left"),
            console=Console(file=self.stream, force_terminal=self.force_terminal),
            auto_refresh=False,
            get_time=self.monotonic,
        )
        self._task = self._bar.add_task(
            "import", total=self.total_bytes or None, rows=0, rate=0.0, left="-:--:--"
        )
        self._bar.start()

    def count(self, lines: Iterable[bytes]) -> Iterator[bytes]:
        """``lines`` unchanged, their bytes counted toward the share read."""
        return self._meter.count(lines)

    def __call__(self, progress: ImportProgress) -> None:
        """Redraw the bar; stop it once the import is done."""
        left = self._meter.seconds_left()
        shown = "-:--:--" if left is None else format_duration(left)
        self._bar.update(
            self._task,
            completed=self._meter.read,
            rows=progress.rows,
            rate=self._meter.rate(progress.rows),
            left="0:00:00" if progress.done else shown,
        )
        self._bar.refresh()
        if progress.done:
            self.close()

    def close(self) -> None:
        """Stop drawing (safe to repeat)."""
        self._bar.stop()

    def __enter__(self) -> RichProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def progress_display(
    stream: TextIO,
    total_bytes: int,
    *,
    monotonic: Callable[[], float] = time.monotonic,
) -> RichProgress | PlainProgress:
    """What ``import-roster`` shows on ``stream``.

    A rich bar on a terminal when rich is installed; otherwise plain lines,
    every second on a terminal and every 10 seconds elsewhere (a log, a pipe).
    """
    terminal = stream.isatty()
    if terminal:
        try:
            return RichProgress(stream=stream, total_bytes=total_bytes, monotonic=monotonic)
        except ImportError:
            pass
    return PlainProgress(
        stream=stream,
        total_bytes=total_bytes,
        interval=1.0 if terminal else 10.0,
        monotonic=monotonic,
    )
