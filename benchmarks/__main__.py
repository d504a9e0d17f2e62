"""``python -m benchmarks``: run every benchmark (see ``benchmarks.run``)."""

from benchmarks.run import main

raise SystemExit(main())
