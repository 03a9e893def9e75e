"""report.html opened in headless Chromium: renders its plots, no console errors, no network."""

from __future__ import annotations

from pathlib import Path

from tests.browser import chromium
from tests.conftest import cli

SECTIONS = ("overview", "funnel", "checks", "lengths", "quality", "balance", "duplicates", "stages")


def test_report_renders_offline_without_errors_or_requests(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    assert cli(["demo", "-o", out, "-q"]).exit_code == 0
    with chromium() as browser:
        page = browser.new_page()
        errors: list[str] = []
        requests: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        local = ("file:", "data:", "about:")
        page.on("request", lambda r: None if r.url.startswith(local) else requests.append(r.url))
        page.goto((out / "report.html").as_uri())
        page.wait_for_selector(".js-plotly-plot .main-svg")
        for anchor in SECTIONS:
            assert page.locator(f"section#{anchor}").count() == 1, anchor
        assert page.locator(".js-plotly-plot").count() >= 4
        assert "3,142" in page.locator("section#overview").inner_text()
        assert "empty_response" in page.locator("section#checks").inner_text()
        duplicates = page.locator("section#duplicates")
        assert "exact duplicates: " in duplicates.inner_text()
        duplicates.locator("details.cluster summary").first.click()
        assert duplicates.locator("details.cluster[open] .turn").count() >= 2
        page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
    assert errors == []
    assert requests == []
