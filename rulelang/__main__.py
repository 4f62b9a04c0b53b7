"""``python -m rulelang``: the command line."""

from rulelang.cli import main

raise SystemExit(main())
