"""``python -m provider_identity``: the command line."""

from provider_identity.cli import main

raise SystemExit(main())
