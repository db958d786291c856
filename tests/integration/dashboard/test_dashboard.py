"""The run dashboard on a real server over a real SQLite store, in a real headless Chromium."""

from __future__ import annotations

import re
import traceback
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import ValidationError

from bot.observe.endings import crash_reason
from bot.observe.exposure import dashboard_exposure
from bot.run.states import Phase, Status
from bot.shared.contracts import ImplementationPlan
from tests.helpers.browser import Page, browser, escaped_markup
from tests.helpers.runs import seed_state
from tests.helpers.server import serve
from tests.integration.dashboard.conftest import (
    CHECK_RUN_ID,
    TOKEN,
    TRACE_UI,
    TRACEPARENT,
    Seeded,
    webhook_app,
)
from webhooks.dashboard import COOKIE
from webhooks.throttle import LoginThrottle

ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts"


def rows(dom: str) -> list[int]:
    return [int(n) for n in re.findall(r'<tr data-run="(\d+)">', dom)]


def readable(page: Page) -> str:
    """The page's text, after checking a person sees no markup in it."""
    assert page.status == 200, f"{page.url} answered {page.status}"
    assert escaped_markup(page.text) == [], f"markup shown as text on {page.url}"
    return page.text


def test_browser_shows_the_run_list_a_filter_and_one_runs_timeline(
    open_server: str,
    seeded: Seeded,
    tmp_path: Path,
) -> None:
    with browser(tmp_path / "chromium") as chrome:
        listing = chrome.open(f"{open_server}/runs")
        text = readable(listing)
        assert rows(listing.dom) == [seeded.running, seeded.failed, seeded.done]
        assert "octo/web" in text and 'href="https://github.com/octo/calc/pull/42"' in listing.dom
        assert "$0.0083" in text and "1h" in text
        assert re.search(rf"{seeded.done}\s+octo/calc\s+#7 Add a mul function\s+approved", text)

        failed_only = chrome.open(f"{open_server}/runs?status=failed")
        readable(failed_only)
        assert rows(failed_only.dom) == [seeded.failed]
        assert '<option value="failed" selected="">failed</option>' in failed_only.dom
        by_repo = chrome.open(f"{open_server}/runs?repo=octo%2Fcalc")
        assert rows(by_repo.dom) == [seeded.running, seeded.done]

        page = chrome.open(f"{open_server}/runs/{seeded.done}")
        text = readable(page)
        heading = next(line for line in text.splitlines() if line.startswith("Run "))
        assert heading == f"Run {seeded.done}: octo/calc #7 approved"
        dom = page.dom
        timeline = dom[dom.index('id="timeline"') : dom.index('id="phases"')]
        bars = re.findall(r'data-phase="(\w+)" data-revision="(\d)"', timeline)
        assert bars == [
            ("planning", "0"),
            ("coding", "0"),
            ("reviewing", "0"),
            ("coding", "1"),
            ("reviewing", "1"),
            ("testing", "1"),
            ("deploying", "1"),
        ]
        widths = [float(w) for w in re.findall(r"width: ([\d.]+)%", timeline)]
        assert widths[5] > widths[1] > widths[3] > widths[0] > widths[6]  # 50s > 45 > 30 > 20 > 10
        assert "45.0s" in text and "3m 00s" in text
        assert "mul ignores negative operands" in text  # review issue of revision 0
        assert "14 passed, 0 failed, 1 skipped" in text and "91.5%" in text
        assert '<span class="add">+def mul(a, b):</span>' in dom
        assert "+def mul(a, b):" in text
        assert "mul(-1, 4) == -4" in text  # the plan's acceptance criteria
        assert TRACEPARENT.split("-")[1] in text and "72d3162e-delivery" in text
        assert re.search(r"coder\s+gpt-4.1-mini\s+2\s+4200\s+1700\s+15.0s\s+\$0.0055", text)
        assert "Pull request #42 · Check run · Trace" in text
        assert 'id="pr-link" href="https://github.com/octo/calc/pull/42"' in dom
        assert f'id="check-link" href="https://github.com/octo/calc/runs/{CHECK_RUN_ID}"' in dom
        trace_url = TRACE_UI.replace("{trace_id}", TRACEPARENT.split("-")[1])
        assert f'id="trace-link" href="{trace_url}"' in dom
        assert "Why it ended" not in text  # it succeeded

        ARTIFACTS.mkdir(exist_ok=True)
        shots = (("dashboard-run.png", f"/runs/{seeded.done}"), ("dashboard-runs.png", "/runs"))
        for name, path in shots:
            shot = ARTIFACTS / name
            shot.unlink(missing_ok=True)
            chrome.open(f"{open_server}{path}")
            chrome.screenshot(shot)
            assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000


def test_a_run_that_did_not_succeed_says_why_in_a_sentence_with_the_traceback_folded(
    open_server: str,
    seeded: Seeded,
    tmp_path: Path,
) -> None:
    try:
        ImplementationPlan.model_validate({"summary": "x"})
    except ValidationError as exc:
        crash = exc
        trace = "".join(traceback.format_exception(exc))
    run, _ = seeded.store.create_run(
        repo="octo/calc",
        issue_number=11,
        clone_url="https://github.com/octo/calc.git",
        title="Crash me",
        request="r",
    )
    seeded.store.put_artifact(run.id, "traceback", trace, "text/plain")
    seed_state(
        seeded.store,
        run.id,
        status=Status.failed,
        phase=Phase.planning,
        status_reason=crash_reason("planning", crash),
    )
    with browser(tmp_path / "chromium") as chrome:
        page = chrome.open(f"{open_server}/runs/{run.id}")
        text = readable(page)
        assert (
            "Why it ended: Draftsmith hit an internal error (ValidationError) while planning the "
            "change; this is a bug in Draftsmith, not in your repository." in text
        )
        assert "Technical details (traceback)" in text
        folded = re.compile(r"validation errors? for ImplementationPlan")
        assert not folded.search(text)  # behind the toggle, not on the page
        details = page.dom[page.dom.index('<details id="traceback">') :]
        assert folded.search(details[: details.index("</details>")])
        assert "No pull request yet · No check run yet · Not traced" in text

        failed = readable(chrome.open(f"{open_server}/runs/{seeded.failed}"))
        assert (
            "Why it ended: The run failed while testing the change: sandbox unavailable: bwrap "
            "missing." in failed
        )
        assert "Technical details" not in failed


def test_a_run_waiting_for_the_model_says_why_and_when_it_resumes(
    open_server: str,
    seeded: Seeded,
    tmp_path: Path,
) -> None:
    run, _ = seeded.store.create_run(
        repo="octo/calc",
        issue_number=12,
        clone_url="https://github.com/octo/calc.git",
        title="Wait for me",
        request="r",
    )
    why = (
        "waiting for the model endpoint (rate limited (429)); resumes by itself at "
        "2026-11-29 09:00:00 UTC (wait 1 of this outage; after 1h 00m of waiting a person "
        "takes over)"
    )
    seed_state(
        seeded.store,
        run.id,
        status=Status.waiting_for_model,
        phase=Phase.planning,
        status_reason=why,
    )
    with browser(tmp_path / "chromium") as chrome:
        text = readable(chrome.open(f"{open_server}/runs/{run.id}"))
        assert f"Run {run.id}: octo/calc #12 waiting_for_model" in text
        assert f"Waiting for the model: {why}" in text
        listing = readable(chrome.open(f"{open_server}/runs?status=waiting_for_model"))
        assert "Wait for me" in listing


def test_the_same_routes_answer_json_when_asked(open_server: str, seeded: Seeded) -> None:
    accept = {"accept": "application/json"}
    listing = httpx.get(f"{open_server}/runs?status=running", headers=accept).json()
    assert [r["id"] for r in listing["runs"]] == [seeded.running]
    detail = httpx.get(f"{open_server}/runs/{seeded.done}", headers=accept).json()
    assert detail["run"]["pr_url"] == "https://github.com/octo/calc/pull/42"
    assert detail["run"]["trace_id"] == TRACEPARENT.split("-")[1]
    assert [(p["name"], p["revision"], p["duration_s"]) for p in detail["phases"]][:4] == [
        ("planning", 0, 20.0),
        ("coding", 0, 45.0),
        ("reviewing", 0, 15.0),
        ("coding", 1, 30.0),
    ]
    agents = {a["role"]: a for a in detail["agents"]}
    assert agents["coder"]["calls"] == 2 and agents["coder"]["prompt_tokens"] == 4200
    assert [r["content"]["status"] for r in detail["reviews"]] == ["needs_revision", "approved"]
    assert detail["test_reports"][0]["content"]["tests_passed"] == 14
    assert detail["plan"]["risk_level"] == "low"
    missing = httpx.get(f"{open_server}/runs/9999", headers=accept)
    assert missing.status_code == 404
    assert httpx.get(f"{open_server}/runs/9999").status_code == 404


def test_without_a_token_only_the_loopback_listener_serves_the_dashboard(
    open_server: str, seeded: Seeded, tmp_path: Path
) -> None:
    with serve(webhook_app(seeded.store, tmp_path, None)) as public:
        assert httpx.get(f"{public}/healthz").status_code == 200
        for path in ("/runs", f"/runs/{seeded.done}", "/metrics", "/login"):
            assert httpx.get(f"{public}{path}").status_code == 404, path
    assert httpx.get(f"{open_server}/runs").status_code == 200
    assert httpx.get(f"{open_server}/metrics").status_code == 200


@pytest.mark.parametrize(
    ("token", "host", "where", "public"),
    [
        pytest.param(None, "127.0.0.1", ("127.0.0.1", 8001), False, id="no-token-loopback"),
        pytest.param(None, "::1", ("::1", 8001), False, id="no-token-ipv6-loopback"),
        pytest.param(None, "0.0.0.0", ("0.0.0.0", 8001), True, id="no-token-all-interfaces"),
        pytest.param(TOKEN, "127.0.0.1", ("0.0.0.0", 8000), False, id="token-on-webhooks"),
    ],
)
def test_the_dashboard_faces_the_network_only_behind_a_token(
    token: str | None, host: str, where: tuple[str, int], public: bool
) -> None:
    exposure = dashboard_exposure(
        token=token, webhook_host="0.0.0.0", webhook_port=8000, host=host, port=8001
    )
    assert (exposure.host, exposure.port) == where
    assert exposure.on_webhook_listener is (token is not None)
    assert exposure.public_without_token is public
    assert "DRAFTSMITH_DASHBOARD_TOKEN" in exposure.message


def test_wrong_tokens_are_throttled_and_then_even_the_right_one_waits(
    protected_server: str,
) -> None:
    for _ in range(5):
        wrong = httpx.post(f"{protected_server}/login", data={"token": "nope", "next": "/runs"})
        assert wrong.status_code == 401
    right = httpx.post(f"{protected_server}/login", data={"token": TOKEN, "next": "/runs"})
    assert right.status_code == 429 and int(right.headers["retry-after"]) > 0
    assert "Too many wrong tokens" in right.text and COOKIE not in right.headers.get(
        "set-cookie", ""
    )
    bearer = httpx.get(f"{protected_server}/metrics", headers={"authorization": f"Bearer {TOKEN}"})
    assert bearer.status_code == 429


def test_wrong_bearer_tokens_count_as_failed_logins(protected_server: str) -> None:
    for _ in range(5):
        guess = httpx.get(f"{protected_server}/metrics", headers={"authorization": "Bearer x"})
        assert guess.status_code == 401
    login = httpx.post(f"{protected_server}/login", data={"token": TOKEN, "next": "/runs"})
    assert login.status_code == 429


def test_the_login_throttle_forgets_failures_after_its_window() -> None:
    now = [1000.0]
    throttle = LoginThrottle(max_failures=2, max_total=3, window_s=60, clock=lambda: now[0])
    throttle.failed("a")
    assert throttle.retry_after("a") == 0
    throttle.failed("a")
    assert throttle.retry_after("a") == 60 and throttle.retry_after("b") == 0
    throttle.failed("b")
    assert throttle.retry_after("c") == 60  # three failures in total block everyone
    now[0] += 30
    assert throttle.retry_after("a") == 30
    now[0] += 30
    assert throttle.retry_after("a") == 0 and throttle.retry_after("c") == 0


def test_with_a_token_nothing_is_shown_without_it(protected_server: str, seeded: Seeded) -> None:
    page = httpx.get(f"{protected_server}/runs?status=failed")
    assert page.status_code == 303
    assert page.headers["location"] == "/login?next=%2Fruns%3Fstatus%3Dfailed"
    for path in ("/runs", f"/runs/{seeded.done}"):
        refused = httpx.get(f"{protected_server}{path}", headers={"accept": "application/json"})
        assert refused.status_code == 401 and "octo" not in refused.text
    for auth in (None, "Bearer wrong-token", f"Basic {TOKEN}"):
        headers = {"authorization": auth} if auth else {}
        assert httpx.get(f"{protected_server}/metrics", headers=headers).status_code == 401
    forged = httpx.get(f"{protected_server}/runs", cookies={COOKIE: TOKEN})
    assert forged.status_code == 303
    wrong = httpx.post(f"{protected_server}/login", data={"token": "nope", "next": "/runs"})
    assert wrong.status_code == 401 and "not right" in wrong.text
    assert COOKIE not in wrong.headers.get("set-cookie", "")


def test_with_a_token_the_bearer_header_or_the_login_cookie_opens_the_pages(
    protected_server: str,
    seeded: Seeded,
) -> None:
    bearer = {"authorization": f"Bearer {TOKEN}"}
    assert httpx.get(f"{protected_server}/runs/{seeded.done}", headers=bearer).status_code == 200
    scrape = httpx.get(f"{protected_server}/metrics", headers=bearer)
    assert scrape.status_code == 200 and "draftsmith_runs" in scrape.text
    form = httpx.get(f"{protected_server}/login?next=/runs/{seeded.done}")
    assert form.status_code == 200 and 'name="token"' in form.text
    with httpx.Client(base_url=protected_server) as client:
        login = client.post("/login", data={"token": TOKEN, "next": f"/runs/{seeded.done}"})
        assert login.status_code == 303 and login.headers["location"] == f"/runs/{seeded.done}"
        cookie = login.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and TOKEN not in cookie
        page = client.get(f"/runs/{seeded.done}")
        assert page.status_code == 200 and "mul ignores negative operands" in page.text
    offsite = httpx.post(f"{protected_server}/login", data={"token": TOKEN, "next": "//evil"})
    assert offsite.headers["location"] == "/runs"


def test_metrics_parse_with_the_prometheus_parser(open_server: str, seeded: Seeded) -> None:
    text = httpx.get(f"{open_server}/metrics").text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    runs = {s.labels["status"]: s.value for s in families["draftsmith_runs"].samples}
    assert runs["approved"] == 1 and runs["failed"] == 1 and runs["running"] == 1
    phases = families["draftsmith_phase_duration_seconds"].samples
    counts = {s.labels["phase"]: s.value for s in phases if s.name.endswith("_count")}
    assert counts["coding"] == 2  # the running run's coding phase is not finished


def test_a_credential_in_a_run_never_reaches_the_page_or_the_json(
    open_server: str, seeded: Seeded
) -> None:
    token = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
    run, _ = seeded.store.create_run(
        repo="octo/leaky",
        issue_number=99,
        clone_url="file:///x",
        title=f"Use {token} to call the API",
        request="r",
    )
    seed_state(seeded.store, run.id, status=Status.failed, status_reason=f"token {token} refused")
    page = httpx.get(f"{open_server}/runs/{run.id}", timeout=10).text
    listing = httpx.get(f"{open_server}/runs", timeout=10).text
    as_json = httpx.get(
        f"{open_server}/runs/{run.id}", headers={"Accept": "application/json"}, timeout=10
    ).text
    assert "octo/leaky" in listing
    for text in (page, listing, as_json):
        assert token not in text
