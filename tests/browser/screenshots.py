"""Screenshots of the pages for the README: the overview, the short-board report and a channel
lead's page, taken in headless Chromium against the seeded test site (tests/browser/site.py).

    .venv/bin/python -m tests.browser.screenshots [--out docs]

Deterministic data and a frozen clock, so a new screenshot differs from the last only where a
page changed.
"""
from __future__ import annotations

import argparse
import logging
import tempfile
from pathlib import Path

from tests.browser.site import LEAD_OUTLETS, PASSWORD, serving

CHROMIUM = "/usr/bin/chromium"
WIDTH = 1360
MAX_HEIGHT = 1600  # a long answer list is cut: the README shows the top of each page
SHOTS = (
    # (file, user, path): a quarter's answers give each outlet enough for the short-board tests.
    ("overview.png", "manager", "/?period=90d"),
    ("shortboards.png", "manager", "/shortboards?by=outlet&period=90d"),
    ("lead.png", "lead", f"/outlets/{LEAD_OUTLETS[0]}?period=90d"),
)


def shoot(browser, base_url: str, out: Path, *, settle_ms: int = 1500) -> list[Path]:
    """Sign in as each user through the form and save each page of SHOTS as a PNG in `out`, once
    the charts have had `settle_ms` to finish their entry animation (ECharts' default is a second)."""
    out.mkdir(parents=True, exist_ok=True)
    saved = []
    for name, user, path in SHOTS:
        context = browser.new_context(base_url=base_url, locale="zh-CN", timezone_id="Asia/Shanghai",
                                      viewport={"width": WIDTH, "height": 900})
        page = context.new_page()
        page.goto("/login")
        page.get_by_label("用户名").fill(user)
        page.get_by_label("密码").fill(PASSWORD)
        with page.expect_navigation():
            page.get_by_role("button", name="登录").click()
        page.goto(path)
        page.wait_for_load_state("networkidle")
        page.wait_for_timeout(settle_ms)
        height = min(page.evaluate("document.documentElement.scrollHeight"), MAX_HEIGHT)
        target = out / name
        page.screenshot(path=str(target), full_page=True, clip={"x": 0, "y": 0, "width": WIDTH, "height": height})
        saved.append(target)
        context.close()
    return saved


def take(out: Path, *, chromium: str = CHROMIUM) -> list[Path]:
    """Serve the seeded site on loopback and shoot its pages with Debian's chromium."""
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as folder, serving(Path(folder)) as site, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True)
        try:
            return shoot(browser, site.url, out)
        finally:
            browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs"), help="folder for the PNG files (docs)")
    parser.add_argument("--chromium", default=CHROMIUM, help="the browser to drive (Debian's chromium)")
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    for path in take(args.out, chromium=args.chromium):
        print(path)


if __name__ == "__main__":
    main()
