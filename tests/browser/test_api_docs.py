"""The API document's page renders offline in a real browser: every operation of the generated
document shown by the vendored Swagger UI, nothing fetched from elsewhere, nothing the policy refuses."""
from __future__ import annotations


def test_the_api_docs_render_every_operation_offline(browser_page):
    page = browser_page.page
    browser_page.sign_in("manager", next_path="/api/docs")
    document = page.request.get("/api/openapi.json").json()
    operations = [(method.upper(), path) for path, ops in document["paths"].items() for method in ops]
    page.locator(".opblock").first.wait_for()
    shown = page.locator(".opblock-summary-path").all_inner_texts()
    assert sorted(p.replace("\u200b", "") for p in shown) == sorted(path for _, path in operations)
    assert page.locator(".opblock-summary-method").all_inner_texts().count("POST") == 1
    assert page.get_by_text("Touchpoint API").first.is_visible()
