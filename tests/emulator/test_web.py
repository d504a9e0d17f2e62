"""The session ``url`` leads to a page (the "Devin Session" link in Airflow lands somewhere)."""

from __future__ import annotations

import requests


def test_session_url_serves_an_html_page_without_the_key(client, emulator):
    created = client.create("Fix <the> bug [emulator:scenario=pull_request]")
    emulator.control.advance(60)
    page = requests.get(created["url"], timeout=30)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert created["session_id"] in page.text
    assert "finished" in page.text
    assert "Fix &lt;the&gt; bug" in page.text, "prompt text is escaped"
    assert "github.com/emulator/example/pull/" in page.text


def test_unknown_session_page_is_404(emulator):
    assert requests.get(f"{emulator.base_url}/sessions/{'0' * 32}", timeout=30).status_code == 404


def test_index_lists_sessions(client, emulator):
    created = client.create("Listed on the index")
    index = requests.get(f"{emulator.base_url}/", timeout=30)
    assert index.status_code == 200
    assert created["session_id"].removeprefix("devin-") in index.text


def test_web_pages_are_not_journaled(client, emulator):
    created = client.create("x")
    requests.get(created["url"], timeout=30)
    assert [e["path"] for e in emulator.control.journal()] == ["/v1/sessions"]
