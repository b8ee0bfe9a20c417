"""End to end in a real browser: Chromium drives the live server while a real Celery worker decides.

What a user would notice breaking: the decision arriving without a reload, the reviewer's queue
refreshing on its own and confirming, the grant reaching the requester's page, the auditor's CSV.
"""

import csv
import io
import shutil

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from decisions.models import Decision
from requests.models import AccessRequest
from tests.conftest import make_user

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# Flags for a closed network: without them Chromium keeps trying to reach Google's services.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORD = "pw-for-tests-only"


@pytest.fixture
def browser(monkeypatch):
    if CHROMIUM is None:
        pytest.fail(
            "Chromium is needed for the end-to-end tests: `apt-get install chromium` (make test does it as root)."
        )
    # Playwright's sync API runs an event loop in this thread; our ORM calls in the test are still synchronous.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def sign_in(browser, live_server, username: str) -> Page:
    page = browser.new_context(accept_downloads=True).new_page()
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/accounts/login/" not in url)
    return page


def test_a_request_is_decided_live_and_reviewers_and_auditors_see_it(
    browser, live_server, celery_worker, ai_settings, fake_openai, requester, roles
):
    settings = ai_settings
    settings.JIT_AI_TIMEOUT_SECONDS = 10
    # The model takes a moment, so the page is shown before the decision lands and must update itself.
    fake_openai.answer_verdict(
        {
            "verdict": "APPROVE_WITH_CONDITIONS",
            "reasoning": "Privileged IAM access; keep it short and supervised.",
            "risk_drivers": ["High-privilege role"],
            "recommended_controls": ["MFA", "session recording"],
        },
        delay_seconds=2,
    )
    make_user("reviewer", "reviewers")
    make_user("auditor", "auditors")

    reviewer = sign_in(browser, live_server, "reviewer")
    reviewer.goto(f"{live_server.url}/decisions/queue/")
    reviewer.evaluate("window.notReloaded = true")
    expect(reviewer.locator("#queue-body")).to_contain_text("No decisions yet")

    page = sign_in(browser, live_server, "requester")
    page.goto(f"{live_server.url}/requests/new/")
    page.fill("#id_role", roles["high"].slug)
    page.dispatch_event("#id_role", "change")
    expect(page.locator("#role-hint")).to_contain_text("at most 4 h")
    page.fill("#id_justification", "Rotate the deploy keys for CHG-2211.")
    page.fill("#id_duration_hours", "2")
    page.get_by_role("button", name="Submit request").click()
    page.wait_for_url(f"{live_server.url}/requests/*/")

    access_request = AccessRequest.objects.get()
    expect(page).to_have_url(f"{live_server.url}/requests/{access_request.pk}/")
    expect(page.locator("#decision-panel")).to_contain_text("Scoring and deciding")
    page.evaluate("window.notReloaded = true")

    panel = page.locator("#decision-panel")
    expect(panel).to_contain_text("Approve with conditions", timeout=20_000)
    expect(panel).to_contain_text("ai:test-model")
    expect(panel).to_contain_text("SESSION_RECORDING")
    expect(panel).to_contain_text("Privileged IAM access")
    assert page.evaluate("window.notReloaded") is True

    # A HIGH role with conditions waits for a human; the reviewer's queue picks it up on its own.
    expect(panel).to_contain_text("a reviewer has been asked to decide")
    row = reviewer.locator("tr", has_text=f"#{access_request.pk}").first
    expect(row).to_contain_text("Approve with conditions", timeout=10_000)
    assert reviewer.evaluate("window.notReloaded") is True
    row.get_by_role("button", name="Confirm").click()
    expect(reviewer.locator(".flash")).to_contain_text(f"Request #{access_request.pk} reviewed: approved")

    # ...and the requester's page turns to granted access, still without a reload.
    expect(panel).to_contain_text("access until", timeout=10_000)
    expect(panel).to_contain_text("Reviewed by reviewer")
    assert page.evaluate("window.notReloaded") is True

    auditor = sign_in(browser, live_server, "auditor")
    auditor.goto(f"{live_server.url}/decisions/history/")
    expect(auditor.locator("table.grid")).to_contain_text(roles["high"].name)
    with auditor.expect_download() as download_info:
        auditor.click("text=Export CSV")
    rows = list(csv.DictReader(io.StringIO(open(download_info.value.path(), encoding="utf-8").read())))
    decision = Decision.objects.get(request=access_request)
    assert [(r["request_id"], r["verdict"], r["engine"], r["status"]) for r in rows] == [
        (str(access_request.pk), "APPROVE_WITH_CONDITIONS", "ai:test-model", "APPROVED")
    ]
    assert rows[0]["conditions"] == ";".join(decision.conditions) == "MFA;TIME_BOUND;SESSION_RECORDING"
