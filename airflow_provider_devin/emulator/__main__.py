"""``python -m airflow_provider_devin.emulator``: same as the ``devin-emulator`` command."""

from __future__ import annotations

import sys

from airflow_provider_devin.emulator.cli import main

sys.exit(main())
