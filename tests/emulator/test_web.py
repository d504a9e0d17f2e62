"""The session ``url`` leads to a page (the "Devin Session" link in Airflow lands somewhere)."""

from __future__ import annotations

import html
import json
import re

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


PROMPT = "Nightly maintenance\n\n1. Update the pins.\n2. Open one pull request.\n  (indented line)"
SCHEMA = {
    "type": "object",
    "properties": {"summary": {"type": "string"}, "pull_request_opened": {"type": "boolean"}},
    "required": ["summary", "pull_request_opened"],
}


def section(page: str, heading: str) -> str:
    """The HTML between ``<h2>heading</h2>`` and the next heading."""
    match = re.search(rf"<h2>{heading}</h2>(.*?)(?=<h2>|</body>)", page, re.S)
    assert match, f"no {heading!r} section in the page"
    return match.group(1)


def test_session_page_keeps_the_prompt_and_shows_output_status_acus_and_pull_request(client, emulator):
    created = client.create(f"{PROMPT} [emulator:scenario=pull_request]", structured_output_schema=SCHEMA)
    emulator.control.advance(60)
    details = client.session(created["session_id"])
    page = requests.get(created["url"], timeout=30).text

    prompt_html = section(page, "Prompt")
    assert prompt_html.startswith('<div class="text">')
    assert html.unescape(re.sub(r"<[^>]+>", "", prompt_html)) == f"{PROMPT} [emulator:scenario=pull_request]"
    assert ".text{white-space:pre-wrap" in page, "line breaks are kept, not collapsed"

    output_html = section(page, "Structured output")
    shown = json.loads(html.unescape(re.sub(r"<[^>]+>", "", output_html)))
    assert shown == details["structured_output"] and shown["pull_request_opened"] is True
    assert json.dumps(shown, indent=2) in html.unescape(output_html), "pretty-printed"

    assert "status_enum <b>finished</b>, status finished" in page, "v1 vocabulary"
    assert "<b>running + finished</b>" in page, "v3 vocabulary"
    assert re.search(r"<th>ACUs consumed</th><td>0\.5</td>", page)
    pr_url = details["pull_request"]["url"]
    assert f'<a href="{pr_url}">{pr_url}</a> (open)' in section(page, "Pull requests")
    assert "<b>Emulated.</b>" in page and "not by Devin" in page
    assert "<b>Times are emulated</b>" in page


def test_session_page_says_times_are_emulated_at_the_clock_speed(devin_emulator):
    response = requests.post(
        f"{devin_emulator.base_url}/v1/sessions",
        json={"prompt": "x"},
        headers={"Authorization": f"Bearer {devin_emulator.api_key}"},
        timeout=30,
    )
    page = requests.get(response.json()["url"], timeout=30).text
    assert "<b>Times are emulated</b>: the clock runs at 60 emulated seconds per real second" in page
    assert "<p>None yet.</p>" in section(page, "Structured output")
    index = requests.get(f"{devin_emulator.base_url}/", timeout=30).text
    assert "<b>Emulated.</b>" in index and "(v1 working, v3 new)" in index


def test_session_page_escapes_everything(client, emulator):
    evil_prompt = "<script>alert('prompt')</script>\n<img src=x onerror=alert(1)>"
    created = client.create(
        evil_prompt,
        title='"><iframe src=javascript:alert(2)>',
        tags=['"><script>alert("tag")</script>'],
    )
    session_id = created["session_id"]
    emulator.control.set_structured_output(session_id, {"x": "</pre><script>alert('output')</script>"})
    client.post(f"/v1/sessions/{session_id}/message", json={"message": "<style>body{display:none}</style>"})
    emulator.control.advance(60)
    for url in (created["url"], f"{emulator.base_url}/"):
        page = requests.get(url, timeout=30).text.lower()
        for tag in ("<script", "<img", "<iframe", "<style>body{display"):
            assert tag not in page, (tag, url)
    page = requests.get(created["url"], timeout=30).text
    assert "&lt;script&gt;alert(&#x27;prompt&#x27;)&lt;/script&gt;" in page
    assert "&lt;/pre&gt;&lt;script&gt;" in page
    assert "&quot;&gt;&lt;iframe" in page
