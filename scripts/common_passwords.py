"""Derive the built-in list of common password words from Django's common-passwords list.

    python -m pip download --no-deps django -d /tmp/django
    .venv/bin/python scripts/common_passwords.py /tmp/django/Django-*.whl

Django ships ``django/contrib/auth/common-passwords.txt.gz``: about 20,000
passwords (lowercased, deduplicated) from Royce Williams' list of the most
common ones in breach corpora. Each is reduced as ``PasswordPolicy.check``
reduces a password before comparing it with the list (NFKC, case folded,
digits, punctuation and spaces stripped from both ends: ``summer2024!`` ->
``summer``), and kept if the rest is at least 3 characters and holds a
letter, so it can be the core of a password that passes the seed's
composition rules. The result, sorted, and Django's licence are written
beside the package as data.
"""

from __future__ import annotations

import argparse
import gzip
import sys
import zipfile
from pathlib import Path

from provider_identity.passwords import _PADDING, normalize_password

DATA = Path(__file__).resolve().parent.parent / "src" / "provider_identity" / "data"
MEMBER = "django/contrib/auth/common-passwords.txt.gz"
SHORTEST = 3


def base_word(password: str) -> str:
    """The core a common word is looked for in, as the pattern check cuts it."""
    return normalize_password(password).casefold().strip(_PADDING)


def words(passwords: list[str]) -> list[str]:
    """The distinct base words of ``passwords`` that can carry a passing password, sorted."""
    found = {base_word(password) for password in passwords}
    return sorted(w for w in found if len(w) >= SHORTEST and any(c.isalpha() for c in w))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wheel", type=Path, help="a Django wheel (Django-X.Y.Z-py3-none-any.whl)")
    wheel = parser.parse_args().wheel
    version = wheel.name.split("-")[1]
    with zipfile.ZipFile(wheel) as archive:
        text = gzip.decompress(archive.read(MEMBER)).decode("utf-8")
        passwords = [line.strip() for line in text.splitlines() if line.strip()]
        licence = next(
            archive.read(name).decode("utf-8")
            for name in archive.namelist()
            if name.endswith((".dist-info/licenses/LICENSE", ".dist-info/LICENSE"))
        )
    kept = words(passwords)
    header = [
        f"# Common password words: {len(kept)} base words derived from the {len(passwords)}",
        f"# passwords of {MEMBER} in Django {version}",
        "# (Royce Williams' list of the most common passwords in breach corpora,",
        "# https://gist.github.com/roycewilliams/226886fd01572964e1431ac8afc999ce).",
        "# Each is NFKC-normalised, case folded and stripped of digits, punctuation and",
        "# spaces at both ends; words under 3 characters or without a letter are dropped.",
        "# Made by scripts/common_passwords.py. Redistributed under Django's BSD-3-Clause",
        "# licence: see common-passwords.LICENSE beside this file.",
    ]
    DATA.mkdir(exist_ok=True)
    (DATA / "common-passwords.txt").write_text("\n".join([*header, *kept, ""]), encoding="utf-8")
    (DATA / "common-passwords.LICENSE").write_text(
        f"common-passwords.txt is derived from {MEMBER} of Django {version},\n"
        "distributed under the following licence.\n\n" + licence,
        encoding="utf-8",
    )
    print(f"{len(kept)} words from {len(passwords)} passwords", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
