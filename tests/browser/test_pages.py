"""The report pages in a real browser: a manager opens the short-board report and its chart draws
and answers a hover; a channel lead sees only their outlets, is refused any other, and downloads
an XLSX that openpyxl opens, holding only their outlets and masked numbers."""
from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from openpyxl import load_workbook

from tests.browser.screenshots import shoot
from tests.browser.site import LEAD_OUTLETS

PlaywrightTimeout = pytest.importorskip("playwright.sync_api").TimeoutError
MASKED = re.compile(r"^1\d{2}\*{4}\d{4}$")  # 139****1234
# Pixels painted on the chart's canvases (ECharts draws on one or more stacked canvases, or an SVG).
PAINTED = """(el) => {
  let painted = 0;
  for (const c of el.querySelectorAll('canvas')) {
    const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    for (let i = 3; i < data.length; i += 4) if (data[i] > 0) painted++;
  }
  return painted + el.querySelectorAll('svg path, svg circle').length;
}"""
# Where the chart draws its data points, relative to the chart's box.
POINTS = """(el) => {
  const chart = echarts.getInstanceByDom(el);
  return chart.getOption().series[0].data.map((p) => chart.convertToPixel({seriesIndex: 0}, p.value || p));
}"""


def outlet_links(page) -> set[str]:
    """The outlet codes the page links to (/outlets/CODE)."""
    hrefs = page.locator("a[href^='/outlets/']").evaluate_all("links => links.map(a => a.getAttribute('href'))")
    return {urlsplit(h).path.rsplit("/", 1)[1] for h in hrefs}


@pytest.fixture(autouse=True)
def _report_pages(site):
    """These tests need the report pages and downloads; they run once those routes are in the app."""
    app_endpoints = set(site.app.view_functions)
    missing = [e for e in ("dashboards.index", "dashboards.shortboards", "dashboards.regions", "dashboards.outlet",
                           "exports.download") if e not in app_endpoints]
    if missing:
        pytest.skip(f"the report pages are not in the app yet: {', '.join(missing)}")


def test_a_manager_opens_the_short_board_report_and_sees_the_chart(browser_page):
    page = browser_page.page
    browser_page.sign_in("manager")
    assert page.get_by_role("heading", name="概览").is_visible()
    page.locator("header nav").get_by_role("link", name="短板").click()
    page.wait_for_url("**/shortboards**")
    page.goto(page.url + ("&" if "?" in page.url else "?") + "period=90d")  # enough answers per outlet
    chart = page.locator("#funnel-chart")
    chart.locator("canvas, svg").first.wait_for()
    box = chart.bounding_box()
    assert box["width"] > 300 and box["height"] > 200
    assert chart.evaluate(PAINTED) > 1000
    # Interactive: hovering a point shows its n, rate and interval.
    tooltip = chart.get_by_text("95% 区间")
    for x, y in chart.evaluate(POINTS)[:6]:  # a hover during the entry animation may show nothing
        page.mouse.move(box["x"] + x, box["y"] + y, steps=3)
        try:
            tooltip.wait_for(timeout=1500)
            break
        except PlaywrightTimeout:
            continue
    assert "n = " in tooltip.inner_text() and "满意度" in tooltip.inner_text()
    # The ranked table beside it flags the short boards.
    assert page.locator("#boards tr.flagged").count() >= 1
    assert outlet_links(page)


def test_a_channel_lead_sees_only_their_outlets_and_downloads_them_as_xlsx(browser_page, tmp_path):
    page = browser_page.page
    browser_page.sign_in("lead")
    seen: set[str] = set()
    for path in ("/shortboards?by=outlet&period=365d", "/regions?period=365d"):
        page.goto(path)
        seen |= outlet_links(page)
    for link in page.locator("main a[href^='/regions/']").all()[:3]:  # down to the cities
        page.goto(link.get_attribute("href"))
        seen |= outlet_links(page)
    assert seen and seen <= set(LEAD_OUTLETS), seen
    # Guessing another outlet's page answers exactly as for one that does not exist.
    for code in ("GZ03", "NOPE"):
        response = page.goto(f"/outlets/{code}")
        assert response.status == 404

    page.goto(f"/outlets/{LEAD_OUTLETS[0]}?period=365d")
    with page.expect_download() as download:
        page.locator("main").get_by_role("link", name="XLSX").first.click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    check_answers_workbook(saved, {LEAD_OUTLETS[0]})
    # The lead's whole download, not only one outlet's: the same rule.
    response = page.request.get("/exports/answers.xlsx?period=365d")
    assert response.status == 200
    whole = tmp_path / "answers.xlsx"
    whole.write_bytes(response.body())
    check_answers_workbook(whole, set(LEAD_OUTLETS))


def check_answers_workbook(path, allowed: set[str]) -> None:
    """The workbook opens, holds answers of the allowed outlets only, every phone masked."""
    sheet = load_workbook(path, read_only=True).worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    header, body = rows[0], rows[1:]
    outlet = header.index("网点")
    phone = next(i for i, name in enumerate(header) if str(name).startswith("手机号"))
    assert body, "the download holds no answers"
    assert {row[outlet] for row in body} <= allowed
    assert all(MASKED.match(str(row[phone])) for row in body), [row[phone] for row in body[:5]]


def test_the_readme_screenshots_can_be_taken(chromium_browser, site, tmp_path):
    """What `python -m tests.browser.screenshots` does, into a temporary folder: a PNG per page."""
    for path in shoot(chromium_browser, site.url, tmp_path, settle_ms=0):
        png = path.read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 50_000, path
