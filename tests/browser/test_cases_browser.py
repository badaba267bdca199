"""The closed loop with a real browser (issue 14's end-to-end acceptance): interactions → the worker →
the SMSC simulator's subscribers → dissatisfied replies → cases → in Chromium a channel lead signs in
through the form, opens the case queue, resolves two cases through the case page's form → the
recovery SMS goes out → "1" and "2" → one recovered, one reopened → the board shows the recovery rate.
The lead never sees the other outlet's case: its guessed id answers 404 in the browser."""
from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from survey.cases.states import CaseState, RecoveryState
from survey.models import Case, CaseRecovery
from tests.browser.cases_site import (LEAD_OUTLET, OTHER_OUTLET, RECOVERS, RELAPSE_REPLY, RELAPSES, SURVEY_REPLY,
                                      UNHAPPY, UNHAPPY_ELSEWHERE, serving_loop)
from tests.browser.conftest import Watched



def masked(msisdn: str) -> str:
    return f"{msisdn[3:6]}****{msisdn[-4:]}"  # +8613900000001 → 139****0001, as the pages show it


@pytest.fixture
def loop(tmp_path, clock, chromium_browser):
    """The loop's server; asks for the browser first, so it skips (or fails on CI) like the other browser tests."""
    with serving_loop(tmp_path, clock) as running:
        yield running


@pytest.fixture
def open_page(chromium_browser, loop):
    """Fresh browser contexts (no cookies) on the loop's server; every request must stay on it."""
    contexts, pages = [], []

    def new_page() -> Watched:
        context = chromium_browser.new_context(base_url=loop.url, locale="zh-CN", timezone_id="Asia/Shanghai",
                                               viewport={"width": 1360, "height": 900})
        context.set_default_timeout(10_000)
        contexts.append(context)
        watched = Watched(context.new_page(), loop.url)

        def stay_on_site(route):
            if route.request.url.startswith(loop.url + "/") or route.request.url.startswith("data:"):
                route.continue_()
            else:
                watched.offsite.append(route.request.url)
                route.abort()

        context.route(re.compile(r".*"), stay_on_site)
        watched.page.on("console", lambda m: watched.console_errors.append(m.text) if m.type == "error" else None)
        watched.page.on("pageerror", lambda e: watched.console_errors.append(str(e)))
        pages.append(watched)
        return watched

    yield new_page
    for context in contexts:
        context.close()
    for watched in pages:
        assert not watched.offsite, f"requests off the site: {watched.offsite}"
        blocked = [m for m in watched.console_errors if "Content Security Policy" in m]
        assert not blocked, f"the security policy refused something the page needs: {blocked}"


def resolve_in_the_form(page, number: str) -> None:
    """From the queue, open the customer's case and resolve it through the case page's form."""
    from playwright.sync_api import expect

    page.locator("tbody tr", has_text=masked(number)).get_by_role("link", name=re.compile(r"^#\d+$")).click()
    page.wait_for_url(re.compile(r"/cases/\d+$"))
    form = page.locator("form", has=page.get_by_role("heading", name="解决并关闭"))
    form.get_by_label("根本原因（必填）").select_option(label="窗口/座席不足、排队")
    form.get_by_label("整改措施（必填）").select_option(label="流程/制度整改")
    form.get_by_label("处理说明（必填）").fill("高峰增开窗口")
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/resolve")) as posted:
        form.get_by_role("button", name="解决").click()
    assert posted.value.status == 302  # stored, then back to the case page
    expect(page.get_by_role("heading", level=1)).to_contain_text("已解决")
    expect(page.locator("table tr", has_text="根本原因")).to_contain_text("窗口/座席不足")
    page.get_by_role("navigation", name="闭环工单").get_by_role("link", name="工单队列").click()
    page.wait_for_url("**/cases/")


def test_a_lead_resolves_cases_in_the_browser_and_the_board_shows_the_recovery_rate(loop, open_page):
    from playwright.sync_api import expect  # here, not at import: without playwright the fixtures skip (or fail on CI)

    loop.push_interactions()
    loop.settle()
    with loop.runtime.session_factory() as db:
        cases = {c.msisdn: c for c in db.scalars(select(Case))}
    assert set(cases) == {*UNHAPPY, UNHAPPY_ELSEWHERE}
    assert cases[UNHAPPY_ELSEWHERE].outlet_code == OTHER_OUTLET
    assert all(cases[n].outlet_code == LEAD_OUTLET for n in UNHAPPY)

    # The lead signs in through the form and opens the case queue from the header.
    lead = open_page()
    page = lead.page
    lead.sign_in("lead", next_path="/")
    page.locator("header nav").get_by_role("link", name="回访工单").click()
    page.wait_for_url("**/cases/")
    rows = page.locator("tbody tr")
    expect(rows).to_have_count(len(UNHAPPY))
    for number in UNHAPPY:
        expect(rows.filter(has_text=masked(number))).to_contain_text(SURVEY_REPLY.split()[1])
    expect(page.locator("tbody")).not_to_contain_text(masked(UNHAPPY_ELSEWHERE))
    assert "+86139" not in page.content()  # numbers are masked

    # The other outlet's case is not there for the lead, even by its id.
    response = page.goto(f"/cases/{cases[UNHAPPY_ELSEWHERE].id}")
    assert response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("未找到该工单")
    page.goto("/cases/")

    for number in (RECOVERS, RELAPSES):
        resolve_in_the_form(page, number)

    # The recovery SMS goes out once to each, and the subscribers answer 1 and 2.
    loop.settle()
    recovery_sms = [e for e in loop.simulator.log if "问题已处理" in e.text]
    assert sorted(e.destination for e in recovery_sms) == sorted(n[1:] for n in (RECOVERS, RELAPSES))
    with loop.runtime.session_factory() as db:
        states = {c.msisdn: c.state for c in db.scalars(select(Case))}
        checks = {c.msisdn: c.state for c in db.scalars(select(CaseRecovery))}
    assert states == {RECOVERS: CaseState.RESOLVED, RELAPSES: CaseState.REOPENED,
                      UNHAPPY[2]: CaseState.OPEN, UNHAPPY_ELSEWHERE: CaseState.OPEN}
    assert checks == {RECOVERS: RecoveryState.SATISFIED, RELAPSES: RecoveryState.DISSATISFIED}

    # The lead sees the reopened case back in the queue and its customer's reply on its page.
    page.reload()
    expect(rows.filter(has_text=masked(RELAPSES)).locator("td.state")).to_have_text("已重开")
    expect(rows).to_have_count(2)  # the active view: the recovered case has left it
    page.goto(f"/cases/{cases[RELAPSES].id}")
    expect(page.get_by_role("heading", level=1)).to_contain_text("已重开")
    expect(page.get_by_text("回访（第 1 轮）：不满意")).to_be_visible()
    expect(page.locator("blockquote", has_text=RELAPSE_REPLY)).to_be_visible()
    expect(page.get_by_role("heading", name="解决并关闭")).to_be_visible()  # it can be resolved again

    # The board, the lead's (their outlet) and the manager's (every outlet): one recovered of two checks.
    page.get_by_role("navigation", name="闭环工单").get_by_role("link", name="闭环看板").click()
    page.wait_for_url("**/cases/board")
    cards = page.locator(".cards")
    expect(cards.locator(".card", has_text="回访满意率")).to_have_text(re.compile(r"^\s*50\.0%\s*回访满意率\s*1/2\s*$"))
    expect(cards.locator(".card", has_text="开单")).to_have_text(re.compile(rf"^\s*{len(UNHAPPY)}\s*开单\s*$"))

    manager = open_page()
    manager.sign_in("manager", next_path="/")
    manager.page.locator("header nav").get_by_role("link", name="闭环看板").click()
    manager.page.wait_for_url("**/cases/board")
    cards = manager.page.locator(".cards")
    expect(cards.locator(".card", has_text="回访满意率")).to_have_text(re.compile(r"^\s*50\.0%\s*回访满意率\s*1/2\s*$"))
    expect(cards.locator(".card", has_text="开单")).to_have_text(re.compile(rf"^\s*{len(cases)}\s*开单\s*$"))
    expect(manager.page.locator("table", has_text="根本原因")).to_contain_text("窗口/座席不足")
    assert urlsplit(manager.page.url).path == "/cases/board"
