"""Sign-in in a real browser: the real form and its CSRF token, a form posted without one refused,
and Chinese text rendered with a CJK font (not as empty boxes)."""
from __future__ import annotations

from urllib.parse import urlsplit

DOCS = "/api/docs"  # a page of the app that is not a report: these tests hold whatever the reports show

# Draws a character on a canvas and compares it with a code point no font has (drawn as the
# "missing glyph" box): equal pixels mean the page would show boxes instead of Chinese.
GLYPH_DRAWN = """(text) => {
  const draw = (s) => {
    const c = document.createElement('canvas'); c.width = 64; c.height = 64;
    const g = c.getContext('2d'); g.font = '40px sans-serif'; g.fillText(s, 4, 48);
    return Array.from(g.getImageData(0, 0, 64, 64).data).join(',');
  };
  const missing = draw('\\u{10FFFD}');
  return Array.from(text).every((ch) => draw(ch) !== missing);
}"""


def test_signing_in_needs_the_form_and_lands_where_the_user_was_going(browser_page):
    page = browser_page.page
    page.goto(DOCS)
    assert urlsplit(page.url).path == "/login"  # nothing but sign-in without a user
    browser_page.sign_in("manager", next_path=DOCS)
    assert page.locator("header").get_by_text("manager").is_visible()
    page.get_by_role("button", name="退出").click()
    page.wait_for_url("**/login")
    page.goto(DOCS)
    assert urlsplit(page.url).path == "/login"


def test_a_wrong_password_is_refused_in_chinese(browser_page):
    page = browser_page.page
    page.goto("/login")
    page.get_by_label("用户名").fill("manager")
    page.get_by_label("密码").fill("not-the-password")
    with page.expect_response(lambda r: urlsplit(r.url).path == "/login" and r.request.method == "POST") as answer:
        page.get_by_role("button", name="登录").click()
    assert answer.value.status == 401
    assert page.get_by_role("alert").inner_text().startswith("用户名或密码错误")


def test_a_form_posted_without_its_csrf_token_is_refused(browser_page):
    page = browser_page.page
    page.goto("/login")
    page.locator("input[name=csrf_token]").evaluate("input => input.remove()")
    page.get_by_label("用户名").fill("manager")
    page.get_by_label("密码").fill("password123")
    with page.expect_response(lambda r: urlsplit(r.url).path == "/login" and r.request.method == "POST") as answer:
        page.get_by_role("button", name="登录").click()
    assert answer.value.status == 400
    page.goto(DOCS)
    assert urlsplit(page.url).path == "/login"  # not signed in

    # Signed in, a sign-out form stripped of its token is refused too: the session stays.
    browser_page.sign_in("manager", next_path=DOCS)
    page.locator("form.signout input[name=csrf_token]").evaluate("input => input.remove()")
    with page.expect_response(lambda r: urlsplit(r.url).path == "/logout") as answer:
        page.get_by_role("button", name="退出").click()
    assert answer.value.status == 400
    page.goto(DOCS)
    assert urlsplit(page.url).path == DOCS


def test_pages_render_chinese_text_with_a_cjk_font(browser_page):
    page = browser_page.page
    page.goto("/login")
    assert page.evaluate("document.documentElement.lang") == "zh-CN"
    heading = page.get_by_role("heading", level=1).inner_text()
    assert heading == "登录"
    assert page.evaluate(GLYPH_DRAWN, "登录服务满意度短信调查短板")
    browser_page.sign_in("manager", next_path=DOCS)
    assert "服务满意度短信调查" in page.locator("header").inner_text()
    assert page.get_by_role("heading", name="接口文档").is_visible()
    assert page.evaluate(GLYPH_DRAWN, "服务满意度接口文档")
