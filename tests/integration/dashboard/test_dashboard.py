"""The run dashboard on a real server over a real SQLite store, in a real headless Chromium."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers.runs import seed_state
from tests.integration.dashboard.conftest import TOKEN, TRACEPARENT, Seeded
from webhooks.dashboard import COOKIE, exposure_warning

ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--window-size=1280,1400",
]


def chromium() -> str:
    """The Chromium binary; the browser test fails (never skips) without it."""
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    pytest.fail("Chromium is not installed: run `apt-get install -y chromium` (Debian's package)")


def browse(url: str, profile: Path, *extra: str) -> str:
    """Load `url` in headless Chromium; the DOM after rendering (or Chromium's output)."""
    args = [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *extra, url]
    done = subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, f"chromium failed ({done.returncode}): {done.stderr[-2000:]}"
    return done.stdout


def rows(dom: str) -> list[int]:
    return [int(n) for n in re.findall(r'<tr data-run="(\d+)">', dom)]


def test_browser_shows_the_run_list_a_filter_and_one_runs_timeline(
    open_server: str, seeded: Seeded, tmp_path: Path,
) -> None:
    profile = tmp_path / "chromium"
    listing = browse(f"{open_server}/runs", profile, "--dump-dom")
    assert rows(listing) == [seeded.running, seeded.failed, seeded.done]
    assert "octo/web" in listing and 'href="https://github.com/octo/calc/pull/42"' in listing
    assert "$0.0083" in listing and "1h" in listing

    failed_only = browse(f"{open_server}/runs?status=failed", profile, "--dump-dom")
    assert rows(failed_only) == [seeded.failed]
    assert '<option value="failed" selected="">failed</option>' in failed_only
    by_repo = browse(f"{open_server}/runs?repo=octo%2Fcalc", profile, "--dump-dom")
    assert rows(by_repo) == [seeded.running, seeded.done]

    page = browse(f"{open_server}/runs/{seeded.done}", profile, "--dump-dom")
    timeline = page[page.index('id="timeline"'):page.index('id="phases"')]
    bars = re.findall(r'data-phase="(\w+)" data-revision="(\d)"', timeline)
    assert bars == [("planning", "0"), ("coding", "0"), ("reviewing", "0"), ("coding", "1"),
                    ("reviewing", "1"), ("testing", "1"), ("deploying", "1")]
    widths = [float(w) for w in re.findall(r"width: ([\d.]+)%", timeline)]
    assert widths[5] > widths[1] > widths[3] > widths[0] > widths[6]  # 50s > 45 > 30 > 20 > 10
    assert "45.0s" in timeline and "3m 00s" in timeline
    assert "mul ignores negative operands" in page  # review issue of revision 0
    assert "14 passed, 0 failed, 1 skipped" in page and "91.5%" in page
    assert '<span class="add">+def mul(a, b):</span>' in page
    assert "mul(-1, 4) == -4" in page  # the plan's acceptance criteria
    assert TRACEPARENT.split("-")[1] in page and "72d3162e-delivery" in page
    coder = re.search(r"<td>coder</td>.*?</tr>", page, re.DOTALL)
    assert coder is not None and "$0.0055" in coder.group(0) and ">4200<" in coder.group(0)

    ARTIFACTS.mkdir(exist_ok=True)
    shots = (("dashboard-run.png", f"/runs/{seeded.done}"), ("dashboard-runs.png", "/runs"))
    for name, path in shots:
        shot = ARTIFACTS / name
        shot.unlink(missing_ok=True)
        browse(f"{open_server}{path}", profile, f"--screenshot={shot}")
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000


def test_the_same_routes_answer_json_when_asked(open_server: str, seeded: Seeded) -> None:
    accept = {"accept": "application/json"}
    listing = httpx.get(f"{open_server}/runs?status=running", headers=accept).json()
    assert [r["id"] for r in listing["runs"]] == [seeded.running]
    detail = httpx.get(f"{open_server}/runs/{seeded.done}", headers=accept).json()
    assert detail["run"]["pr_url"] == "https://github.com/octo/calc/pull/42"
    assert detail["run"]["trace_id"] == TRACEPARENT.split("-")[1]
    assert [(p["name"], p["revision"], p["duration_s"]) for p in detail["phases"]][:4] == [
        ("planning", 0, 20.0), ("coding", 0, 45.0), ("reviewing", 0, 15.0), ("coding", 1, 30.0)]
    agents = {a["role"]: a for a in detail["agents"]}
    assert agents["coder"]["calls"] == 2 and agents["coder"]["prompt_tokens"] == 4200
    assert [r["content"]["status"] for r in detail["reviews"]] == ["needs_revision", "approved"]
    assert detail["test_reports"][0]["content"]["tests_passed"] == 14
    assert detail["plan"]["risk_level"] == "low"
    missing = httpx.get(f"{open_server}/runs/9999", headers=accept)
    assert missing.status_code == 404
    assert httpx.get(f"{open_server}/runs/9999").status_code == 404


def test_without_a_token_pages_and_metrics_are_open(open_server: str) -> None:
    assert httpx.get(f"{open_server}/runs").status_code == 200
    assert httpx.get(f"{open_server}/metrics").status_code == 200


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
    protected_server: str, seeded: Seeded,
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


def test_a_non_loopback_server_without_a_token_is_warned_about() -> None:
    assert exposure_warning("0.0.0.0", None) is not None
    assert "DRAFTSMITH_DASHBOARD_TOKEN" in (exposure_warning("10.1.2.3", None) or "")
    assert exposure_warning("127.0.0.1", None) is None
    assert exposure_warning("::1", None) is None
    assert exposure_warning("localhost", None) is None
    assert exposure_warning("0.0.0.0", TOKEN) is None


def test_a_credential_in_a_run_never_reaches_the_page_or_the_json(
    open_server: str, seeded: Seeded
) -> None:
    token = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
    run, _ = seeded.store.create_run(
        repo="octo/leaky", issue_number=99, clone_url="file:///x",
        title=f"Use {token} to call the API", request="r",
    )
    seed_state(seeded.store, run.id, status="failed", status_reason=f"token {token} refused")
    page = httpx.get(f"{open_server}/runs/{run.id}", timeout=10).text
    listing = httpx.get(f"{open_server}/runs", timeout=10).text
    as_json = httpx.get(f"{open_server}/runs/{run.id}", headers={"Accept": "application/json"},
                        timeout=10).text
    assert "octo/leaky" in listing
    for text in (page, listing, as_json):
        assert token not in text
