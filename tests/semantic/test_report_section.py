"""The topics section of report.html in headless Chromium: map drawn, table filled, no errors."""

from __future__ import annotations

from pathlib import Path

from tests.browser import chromium
from tests.conftest import write_jsonl
from tests.semantic.test_topics import WORDS


def test_topic_map_and_cluster_table_render_offline(run_curata, tmp_path: Path) -> None:
    rows = [
        {"id": f"{c}-{i}", "instruction": f"{WORDS[c]} question {i}", "output": f"{WORDS[c]} answer"}
        for c in WORDS
        for i in range(20)
    ]
    rows += [
        {"id": f"copy-{i}", "instruction": rows[i]["instruction"], "output": rows[i]["output"]}
        for i in range(3)
    ]
    data = write_jsonl(tmp_path / "in.jsonl", rows)
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(
        "stages:\n  - normalize\n  - exact_dedup\n  - embed: {model: hashing}\n"
        "  - semantic_dedup: {threshold: 0.99}\n  - topics\n  - decide: {actions: {exact_duplicate: drop}}\n"
    )
    run = run_curata(data, extra=["--recipe", recipe])
    k = run.summary["stage_summaries"]["topics"]["k"]
    with chromium() as browser:
        page = browser.new_page()
        errors: list[str] = []
        requests: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        local = ("file:", "data:", "about:")
        page.on("request", lambda r: None if r.url.startswith(local) else requests.append(r.url))
        page.goto((run.out / "report.html").as_uri())
        section = page.locator("section#topics")
        section.locator(".js-plotly-plot .main-svg").first.wait_for()
        text = section.inner_text()
        assert "Vendi score" in text and "semantic duplicates" in text.lower()
        # One table row per cluster, and a legend entry per cluster plus the rejected copies.
        assert section.locator("table tr").count() == k + 1
        assert section.locator(".legend .traces").count() == k + 1
    assert errors == []
    assert requests == []
