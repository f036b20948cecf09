"""``python -m examples.portal``: start the portal on 127.0.0.1 and print its URL."""

from __future__ import annotations

import argparse
from datetime import timedelta
from pathlib import Path
from typing import Any

import attrs

from provider_identity import LimitKind, RateLimit, RateLimits
from provider_identity.adapters.sql import SqlProviderDirectory, make_engine
from provider_identity.roster import EXAMPLE_ROSTER, import_roster
from provider_identity.service import DEFAULT_PAGE_SIZE

from .app import create_app


def _limit(text: str) -> tuple[str, RateLimit]:
    flow, _, count = text.partition("=")
    return LimitKind(flow).value, RateLimit(limit=int(count), period=timedelta(minutes=1))


def main() -> None:
    """Start the portal; ``--fresh``: a new database with the example roster, an empty mailbox."""
    parser = argparse.ArgumentParser(prog="python -m examples.portal", description=__doc__)
    parser.add_argument("--database", default="portal.db", help="SQLite file (portal.db)")
    parser.add_argument("--mailbox", default="portal-mailbox", help="folder of the mails sent")
    parser.add_argument("--port", type=int, default=5000, help="loopback port (5000)")
    parser.add_argument("--fresh", action="store_true", help="start from a new database")
    parser.add_argument("--fast", action="store_true", help="test-only cheapest hashing")
    parser.add_argument("--page-size", type=int, default=DEFAULT_PAGE_SIZE, help="providers a page")
    parser.add_argument(
        "--limit",
        action="append",
        default=[],
        metavar="FLOW=N",
        help="allow N attempts a minute per client address (e.g. check_provider=5)",
    )
    args = parser.parse_args()
    database, mailbox = Path(args.database), Path(args.mailbox)
    if args.fresh:
        database.unlink(missing_ok=True)
        for old in mailbox.glob("*.eml"):
            old.unlink()
    url, engine_url = f"http://127.0.0.1:{args.port}", f"sqlite:///{database.resolve()}"
    overrides: dict[str, Any] = dict(_limit(text) for text in args.limit)
    limits = attrs.evolve(RateLimits(), **overrides)
    app = create_app(
        engine_url, mailbox.resolve(), url, fast=args.fast, limits=limits, page_size=args.page_size
    )
    if args.fresh:
        with EXAMPLE_ROSTER.open("rb") as roster:
            import_roster(roster, SqlProviderDirectory(make_engine(engine_url)))
    print(f"Provider Portal: {url}/login  (mails sent: {url}/mailbox)", flush=True)
    app.run(host="127.0.0.1", port=args.port)


if __name__ == "__main__":
    main()
