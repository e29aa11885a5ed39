"""The web dashboard end to end: headless Chromium against a real seeded `observatory serve`; every page renders
the API's data, filters change the numbers, search highlights a synced message, an approval made in the UI is
the API's state. A screenshot of each page lands in .test-output/ui/ for review."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, Server, start_server, stop_server

try:  # the dev extra pins it; without it only the browser tests skip
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # pragma: no cover
    expect = sync_playwright = None

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
SHOTS = ROOT / ".test-output" / "ui"
API = "/api/observatory"
WAIT_MS = 15_000



def call(server: Server, method: str, path: str, body: Any = None, key: str = "") -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(server.url + path, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if key:
        request.add_header("Authorization", f"Bearer {key}")
    with urllib.request.urlopen(request, timeout=30) as response:
        text = response.read()
    return json.loads(text) if text else None


def usd(value: float) -> str:
    """The dashboard's money format (app.js `usd`)."""
    return f"${value:.{4 if value != 0 and abs(value) < 0.01 else 2}f}"


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The local stack over the minimal seed profile (seeded before the server holds the data directory)."""
    data_dir = tmp_path_factory.mktemp("ui") / "data"
    subprocess.run([sys.executable, "-m", "emulator.cli", "seed", "--profile", "minimal", "--data-dir", str(data_dir)],
                   cwd=ROOT, check=True, capture_output=True, timeout=120)
    server = start_server(data_dir)
    yield server
    stop_server(server)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if sync_playwright is None or shutil.which(CHROMIUM) is None:
        pytest.skip("the browser tests need the playwright package and Debian's chromium (make install-dev)")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    yield pg
    context.close()
    assert not errors, f"uncaught errors in the page: {errors}"


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def settled(page: Any) -> None:
    """The view of the current URL is showing, every section has left its loading state, and none shows an error."""
    fragment = page.url.partition("#")[2]
    expect(page.locator("main")).to_have_attribute("data-route", f"#{fragment}" if fragment else "", timeout=WAIT_MS)
    expect(page.locator(".state.loading")).to_have_count(0, timeout=WAIT_MS)
    errors = page.locator(".state.error").all_inner_texts()
    assert not errors, errors


def stat(page: Any, key: str) -> str:
    return str(page.locator(f'[data-stat="{key}"] .value').inner_text())


def test_overview_shows_the_summary_and_a_filter_changes_the_numbers(seeded: Server, page: Any) -> None:
    summary = call(seeded, "GET", f"{API}/metrics/summary")
    models = call(seeded, "GET", f"{API}/breakdowns/model")["items"]
    assert summary["total_tokens_in"] > 0 and len(models) >= 2

    page.goto(f"{seeded.url}/#/overview")
    settled(page)
    assert stat(page, "tokens_in") == f"{summary['total_tokens_in']:,}"
    assert stat(page, "cost") == usd(summary["total_cost_usd"])
    assert stat(page, "sessions") == str(summary["total_sessions"])
    heatmap = call(seeded, "GET", f"{API}/heatmap")
    active_days = sum(1 for d in heatmap["days"] if d["cost"] > 0)
    assert page.locator('[data-chart="Spend per day"] rect').count() == len(heatmap["days"])
    assert page.locator('[data-chart="Spend per day"] rect[height]:not([height="0"])').count() == active_days
    for item in models:
        assert page.get_by_role("cell", name=item["label"], exact=True).count() == 1
    assert page.locator(".hbar").filter(has_text="run_shell_command").count() == 1  # top tools from analytics
    shot(page, "overview")

    # One model only: the URL carries the filter and the numbers are that model's.
    model = models[-1]["id"]
    page.get_by_label("Model", exact=True).fill(model)
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url(re.compile(r"model=" + re.escape(urllib.parse.quote_plus(model))))
    filtered = call(seeded, "GET", f"{API}/metrics/summary?model={urllib.parse.quote(model)}")
    assert filtered["total_tokens_in"] != summary["total_tokens_in"]
    expect(page.locator('[data-stat="tokens_in"] .value')).to_have_text(f"{filtered['total_tokens_in']:,}",
                                                                       timeout=WAIT_MS)
    settled(page)
    assert page.get_by_role("cell", name=models[0]["label"], exact=True).count() == 0

    # The filtered view is shareable: loading its URL afresh shows the same numbers.
    page.goto(page.url)
    page.reload()
    settled(page)
    assert stat(page, "tokens_in") == f"{filtered['total_tokens_in']:,}"
    assert page.get_by_label("Model", exact=True).input_value() == model
    page.set_viewport_size({"width": 390, "height": 844})
    shot(page, "overview-390")


def test_sessions_session_timeline_and_trace_waterfall(seeded: Server, page: Any) -> None:
    sessions = call(seeded, "GET", f"{API}/sessions")["sessions"]
    v1 = call(seeded, "GET", "/api/v1/sessions?limit=25")
    assert sessions and v1["sessions"]
    page.goto(f"{seeded.url}/#/sessions")
    settled(page)
    browsable = page.get_by_role("region", name="Browsable sessions")
    assert browsable.locator("tbody tr").count() == len(v1["sessions"])
    assert f"{v1['total']} sessions" in browsable.inner_text()
    shot(page, "sessions")

    session = sessions[0]
    sid = session["session_id"]
    page.goto(f"{seeded.url}/#/sessions/{sid}")
    settled(page)
    llm = call(seeded, "GET", f"{API}/sessions/{sid}/llm-calls?limit=1000")["llm_calls"]
    tools = call(seeded, "GET", f"{API}/sessions/{sid}/tools?limit=1000")["tools"]
    timeline = page.get_by_role("region", name="Timeline")
    assert timeline.locator("li.llm").count() == len(llm)
    assert timeline.locator("li.tool").count() == len(tools)
    assert timeline.locator("li.prompt").count() >= 1
    first = min(llm, key=lambda c: c["time"])
    assert f"in {first['tokens_in']:,}" in timeline.inner_text()
    shot(page, "session")

    traces = call(seeded, "GET", f"{API}/traces?session_id={sid}")["traces"]
    region = page.get_by_role("region", name="Traces (span waterfall)")
    assert region.locator("tbody tr").count() == len(traces)
    region.locator("tbody a").first.click()
    page.wait_for_url(re.compile(r"#/traces/"))
    settled(page)
    trace_id = page.url.rsplit("/", 1)[1]
    spans = call(seeded, "GET", f"{API}/traces/{trace_id}")["spans"]
    rows = page.locator(".wf-row")
    assert rows.count() == len(spans)
    rows.nth(1).focus()
    page.keyboard.press("Enter")  # keyboard reachable: a row is a button
    detail = page.locator("#span-detail")
    assert rows.nth(1).get_attribute("aria-pressed") == "true"
    assert detail.get_by_role("heading", name="Attributes").count() == 1
    shown = rows.nth(1).locator(".wf-name").get_attribute("title")
    assert any(s["name"] == shown for s in spans) and detail.locator("h2").inner_text() == shown
    shot(page, "trace")

    page.goto(f"{seeded.url}/#/traces")
    settled(page)
    listed = call(seeded, "GET", f"{API}/traces?limit=50")["traces"]
    assert page.locator("main tbody tr").count() == len(listed)
    shot(page, "traces")


def test_search_finds_a_synced_message_with_highlights(seeded: Server, page: Any) -> None:
    sid = f"ui-search-{uuid.uuid4().hex[:8]}"
    # Non-ASCII before the match: the byte offsets of the highlight differ from character offsets.
    content = "Größenprüfung für 日本語 erledigt, jetzt Zebrawidget-Kalibrierung starten"
    call(seeded, "POST", "/api/v1/sync", {
        "sessions": [{"id": sid, "project_name": "ui-search", "agent_type": "claude-code",
                      "started_at": "2026-01-02T03:04:05Z", "message_count": 1, "user_message_count": 1}],
        "messages": [{"session_id": sid, "ordinal": 0, "role": "user", "content": content,
                      "timestamp": "2026-01-02T03:04:05Z"}]})
    page.goto(f"{seeded.url}/#/sessions")
    settled(page)
    page.get_by_label("Search messages and tool calls").fill("zebrawidget")
    page.get_by_role("button", name="Search").click()
    page.wait_for_url(re.compile(r"q=zebrawidget"))
    settled(page)
    results = page.get_by_role("region", name=re.compile("Search results"))
    marks = results.locator("mark")
    assert marks.count() >= 1
    assert marks.first.inner_text() == "Zebrawidget"  # case-insensitive match, the original text highlighted
    assert "Größenprüfung für 日本語" in results.locator(".snippet").first.inner_text()
    shot(page, "search")
    results.get_by_role("link", name="ui-search").first.click()
    page.wait_for_url(re.compile(re.escape(f"#/sessions/{sid}")))
    settled(page)  # a session known only to the agent-session store: its messages, no telemetry
    assert page.get_by_role("region", name="Messages").locator("pre.message").inner_text() == content
    assert "No telemetry recorded" in page.get_by_role("region", name="Timeline").inner_text()
    shot(page, "search-session")


def test_approving_a_pending_stage_in_the_ui_changes_it_in_the_api(seeded: Server, page: Any) -> None:
    chain = call(seeded, "POST", f"{API}/chains", {"source_type": "github_issue", "github_repo": "example/ui",
                                                   "github_issue_number": 42})
    stage = call(seeded, "POST", f"{API}/chains/{chain['id']}/stages", {"agent_id": "planner", "provider": "claude"})
    call(seeded, "PUT", f"{API}/stages/{stage['id']}/approval",
         {"approval_status": "pending", "approval_type": "merge"})

    page.goto(f"{seeded.url}/#/chains")
    settled(page)
    card = page.locator(f'.approval[data-stage="{stage["id"]}"]')
    assert card.count() == 1
    row = page.locator("main tbody tr").filter(has_text="example/ui#42")
    assert "pending_approval" in row.inner_text() and "planner" in row.inner_text()

    # Live: an approval requested after the page loaded appears without a reload (the events endpoint is polled).
    other = call(seeded, "POST", f"{API}/chains/{chain['id']}/stages", {"agent_id": "reviewer"})
    call(seeded, "PUT", f"{API}/stages/{other['id']}/approval", {"approval_status": "pending"})
    page.locator(f'.approval[data-stage="{other["id"]}"]').wait_for(timeout=WAIT_MS)
    shot(page, "chains")

    card = page.locator(f'.approval[data-stage="{stage["id"]}"]')
    card.get_by_label("Feedback (optional)").fill("Ship it after the docs land")
    card.get_by_role("button", name="Approve").click()
    page.locator(f'.approval[data-stage="{stage["id"]}"]').wait_for(state="detached", timeout=WAIT_MS)
    decided = call(seeded, "GET", f"{API}/stages/{stage['id']}")
    assert decided["approval_status"] == "approved"
    assert decided["human_feedback"] == "Ship it after the docs land"
    pending = call(seeded, "GET", f"{API}/approvals/pending")["approvals"]
    assert stage["id"] not in {a["stage_id"] for a in pending} and other["id"] in {a["stage_id"] for a in pending}

    card = page.locator(f'.approval[data-stage="{other["id"]}"]')
    card.get_by_label("Feedback (optional)").fill("Tests are missing")
    card.get_by_role("button", name="Reject").click()
    card.wait_for(state="detached", timeout=WAIT_MS)
    rejected = call(seeded, "GET", f"{API}/stages/{other['id']}")
    assert (rejected["approval_status"], rejected["human_feedback"]) == ("rejected", "Tests are missing")

    page.goto(f"{seeded.url}/#/chains/{chain['id']}")
    settled(page)
    stages = page.get_by_role("region", name="Stages")
    assert stages.locator("tbody tr").count() == 2
    assert "approved" in stages.locator("tbody tr").first.inner_text()
    assert "rejected" in stages.locator("tbody tr").nth(1).inner_text()
    assert "Ship it after the docs land" in page.get_by_role("region", name="Journey").inner_text()
    shot(page, "chain")


def test_tasks_task_hierarchy_outliers_and_workspaces(seeded: Server, page: Any) -> None:
    tasks = call(seeded, "GET", f"{API}/tasks?limit=200")["tasks"]
    page.goto(f"{seeded.url}/#/tasks")
    settled(page)
    assert page.locator("main tbody tr").count() == len(tasks)
    shot(page, "tasks")

    task = max(tasks, key=lambda t: t["span_count"])
    page.get_by_role("link", name=task["title"]).click()
    page.wait_for_url(re.compile(re.escape(f"#/tasks/{task['id']}")))
    settled(page)
    hierarchy = call(seeded, "GET", f"{API}/tasks/{task['id']}/hierarchy")
    outliers = call(seeded, "GET", f"{API}/tasks/{task['id']}/outliers")["outliers"]
    region = page.get_by_role("region", name="Hierarchy")
    traces = [tr for a in hierarchy["agents"] for tr in a["traces"]]
    assert region.get_by_role("link", name=re.compile("^trace ")).count() == len(traces)
    assert page.get_by_role("region", name="Outliers").locator("tbody tr").count() == len(outliers)
    shot(page, "task")

    workspaces = call(seeded, "GET", f"{API}/workspaces")["workspaces"]
    page.goto(f"{seeded.url}/#/workspaces")
    settled(page)
    assert page.locator("main tbody tr").count() == len(workspaces)
    page.get_by_role("link", name="tasks", exact=True).first.click()
    page.wait_for_url(re.compile(r"#/tasks\?workspace_id="))
    settled(page)
    in_workspace = call(seeded, "GET", f"{API}/tasks?workspace_id={workspaces[0]['id']}")["tasks"]
    assert page.locator("main tbody tr").count() == len(in_workspace)
    shot(page, "workspaces")


def test_with_auth_on_the_ui_asks_for_a_key_and_shows_empty_states(tmp_path: Path, browser: Any) -> None:
    keys = {"keys": [{"key": "reader-key", "org": "acme", "scopes": ["read"]}]}
    server = start_server(tmp_path / "auth-data", {"OBSERVATORY_API_KEYS": json.dumps(keys)})
    context = browser.new_context(viewport={"width": 390, "height": 844})
    try:
        page = context.new_page()
        page.goto(f"{server.url}/#/overview")  # the page itself needs no key
        dialog = page.locator("#keys-dialog")
        dialog.wait_for(state="visible", timeout=WAIT_MS)
        assert "401" not in dialog.inner_text() and "API key" in dialog.inner_text()
        expect(page.locator(".state.error").first).to_contain_text("API key")  # the failed calls say so
        page.get_by_label("Read key").fill("reader-key")
        page.get_by_role("button", name="Save").click()
        expect(page.locator('[data-stat="tokens_in"] .value')).to_have_text("0", timeout=WAIT_MS)
        expect(page.locator(".state.loading")).to_have_count(0, timeout=WAIT_MS)
        assert page.locator(".state.error").count() == 0
        assert page.locator(".state.empty").filter(has_text="No spend in this window.").count() == 1
        assert page.evaluate("localStorage.getItem('observatory.read')") == "reader-key"
        shot(page, "empty-with-key-390")
    finally:
        context.close()
        stop_server(server)


def test_ui_routes_serve_only_known_files(client: Any) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert b'src="ui/app.js"' in page.data
    for name, mimetype in (("app.js", "text/javascript"), ("app.css", "text/css"), ("index.html", "text/html")):
        r = client.get(f"/ui/{name}")
        assert r.status_code == 200 and r.mimetype == mimetype
        assert r.data == (ROOT / "functions" / "ui_static" / name).read_bytes()
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    for missing in ("/ui/missing.js", "/ui/..%2Fui.py", "/ui/%2E%2E%2F%2E%2E%2Fmain.py", "/ui/", "/ui"):
        r = client.get(missing)
        assert r.status_code == 404 and "error" in r.get_json(), missing
    assert client.delete("/").status_code == 405
    # `POST /` is still OTLP/JSON of any signal.
    r = client.post("/", data=json.dumps({"resourceSpans": []}), content_type="application/json")
    assert r.status_code == 200


def test_the_dashboard_loads_nothing_from_elsewhere() -> None:
    static = ROOT / "functions" / "ui_static"
    for path in static.iterdir():
        text = path.read_text()
        assert not re.search(r"""(src|href)\s*=\s*["']https?:""", text), path.name
        assert "@import" not in text and "fonts.googleapis" not in text and "cdn" not in text.lower(), path.name
