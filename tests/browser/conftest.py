"""Browser tests: Debian's chromium, headless, driven by Playwright (never a downloaded browser),
against a real server on loopback (tests/browser/site.py). `make test` installs chromium and the
CJK font; without them these tests skip, except on CI, where a missing browser is a failure.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.browser.site import PASSWORD, serving

CHROMIUM = Path(os.environ.get("TOUCHPOINT_CHROMIUM", "/usr/bin/chromium"))
CJK_FONT = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")


def _missing() -> str | None:
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing (apt-get install chromium)"
    if not CJK_FONT.exists():
        return f"{CJK_FONT} is missing (apt-get install fonts-noto-cjk)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[dev]')"
    return None


@pytest.fixture(scope="session")
def chromium_browser():
    problem = _missing()
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"browser tests cannot run on CI: {problem}")
        pytest.skip(f"browser tests: {problem}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def site(tmp_path_factory):
    with serving(tmp_path_factory.mktemp("browser-site")) as running:
        yield running


class Watched:
    """A page and what it did that a user would not see: console errors, refused requests."""

    def __init__(self, page, origin: str) -> None:
        self.page = page
        self.origin = origin
        self.console_errors: list[str] = []
        self.offsite: list[str] = []

    def sign_in(self, username: str, password: str = PASSWORD, *, next_path: str = "/") -> None:
        """Sign in through the real form (and its CSRF token), as a person would."""
        self.page.goto(f"/login?next={next_path}")
        self.page.get_by_label("用户名").fill(username)
        self.page.get_by_label("密码").fill(password)
        with self.page.expect_navigation():
            self.page.get_by_role("button", name="登录").click()
        assert urlsplit(self.page.url).path == next_path, self.page.url


@pytest.fixture
def browser_page(chromium_browser, site):
    """A fresh browser context (no cookies) on the site; every request must stay on it."""
    context = chromium_browser.new_context(base_url=site.url, locale="zh-CN", timezone_id="Asia/Shanghai",
                                           accept_downloads=True, viewport={"width": 1360, "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    watched = Watched(page, site.url)

    def stay_on_site(route):
        if route.request.url.startswith(site.url + "/") or route.request.url.startswith("data:"):
            route.continue_()
        else:  # the pages work offline: nothing may come from a CDN
            watched.offsite.append(route.request.url)
            route.abort()

    context.route(re.compile(r".*"), stay_on_site)
    page.on("console", lambda m: watched.console_errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: watched.console_errors.append(str(e)))
    yield watched
    context.close()
    assert not watched.offsite, f"requests off the site: {watched.offsite}"
    blocked = [m for m in watched.console_errors if "Content Security Policy" in m]
    assert not blocked, f"the security policy refused something the page needs: {blocked}"
