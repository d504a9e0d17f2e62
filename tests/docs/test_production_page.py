"""The production page names Airflow settings that exist, and the connection page's Port row holds."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from airflow_provider_devin.hooks._settings import normalise_base_url

REPO_ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = REPO_ROOT / "docs" / "guides" / "production.md"


def _settings_named(page: Path) -> list[tuple[str, str]]:
    return sorted(set(re.findall(r"`\[(\w+)\] (\w+)", page.read_text())))


def test_production_page_names_the_recovery_settings() -> None:
    named = _settings_named(PRODUCTION)
    for setting in (
        ("scheduler", "task_instance_heartbeat_timeout"),
        ("triggerer", "triggerer_health_check_threshold"),
        ("triggerer", "capacity"),
    ):
        assert setting in named


@pytest.mark.parametrize("section_option", _settings_named(PRODUCTION), ids="-".join)
def test_every_airflow_setting_on_the_production_page_exists(section_option: tuple[str, str]) -> None:
    from airflow.configuration import conf

    section, option = section_option
    assert conf.has_option(section, option), f"[{section}] {option} is not an Airflow setting"


def test_connection_page_describes_port_once_and_as_the_hook_does() -> None:
    text = (REPO_ROOT / "docs" / "connection.md").read_text()
    rows = [line for line in text.splitlines() if line.startswith("|") and re.search(r"\bport\b", line, re.I)]
    port_rows = [row for row in rows if row.split("|")[1].strip() == "Port"]
    assert len(port_rows) == 1, rows
    assert "Not used" not in port_rows[0]
    # What the row says: appended when the host names no port; a port in the host wins.
    assert normalise_base_url("https://devin.example.com", 8443, "devin_default") == "https://devin.example.com:8443"
    assert (
        normalise_base_url("https://devin.example.com:9443", 8443, "devin_default") == "https://devin.example.com:9443"
    )
    assert "appended to the host when the host names no port of its own" in port_rows[0]
    assert "a port in the host wins" in port_rows[0]
