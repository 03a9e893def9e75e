"""Small pure parts of the review app: kappa, safe markdown, diffs, assignments, priority order."""

from __future__ import annotations

import pytest

from curata.review.agreement import agreements, cohen_kappa
from curata.review.data import assigned
from curata.review.render import markdown, word_diff


def test_cohen_kappa_matches_the_textbook_example() -> None:
    # 50 items: both yes 20, both no 15, a-yes/b-no 5, a-no/b-yes 10 -> kappa = 0.4
    a = ["y"] * 20 + ["n"] * 15 + ["y"] * 5 + ["n"] * 10
    b = ["y"] * 20 + ["n"] * 15 + ["n"] * 5 + ["y"] * 10
    assert cohen_kappa(a, b) == pytest.approx(0.4)
    assert cohen_kappa(["keep", "drop"], ["keep", "drop"]) == pytest.approx(1.0)
    assert cohen_kappa([], []) is None


def test_agreements_compare_reviewers_pairwise_and_with_rules() -> None:
    rows = agreements(
        {"alice": {"1": "keep", "2": "drop"}, "bob": {"2": "drop", "3": "keep"}},
        {"rules": {"1": "drop", "2": "drop", "3": "keep"}},
    )
    pairs = {(r.left, r.right): r for r in rows}
    assert pairs[("alice", "bob")].items == 1
    assert pairs[("alice", "rules")].observed == pytest.approx(0.5)
    assert pairs[("bob", "rules")].kappa == pytest.approx(1.0)


@pytest.mark.parametrize(
    "text",
    [
        "<script>window.pwned=1</script>",
        '<img src=x onerror="window.pwned=1">',
        "[click](javascript:window.pwned=1)",
        "[x](JAVASCRIPT:alert(1)) <a href='javascript:alert(1)'>a</a>",
        "<div><b>unclosed <i>tags",
        "![img](https://example.invalid/x.png)",
    ],
)
def test_markdown_never_emits_live_html(text: str) -> None:
    html = str(markdown(text))
    assert "<script" not in html
    assert "<img" not in html
    assert "<div" not in html
    assert 'href="javascript' not in html.lower()
    assert "onerror=" not in html or "&quot;" in html or "&lt;" in html


def test_markdown_keeps_code_blocks_and_emphasis() -> None:
    html = str(markdown("**bold** and\n\n```python\nprint('<b>')\n```"))
    assert "<strong>bold</strong>" in html
    assert '<code class="language-python">' in html
    assert "&lt;b&gt;" in html


def test_word_diff_marks_only_the_changed_words() -> None:
    left, right = word_diff("the cat sat on the mat", "the cat sat on a mat")
    assert [p.text for p in left if p.kind == "del"] == ["the"]
    assert [p.text for p in right if p.kind == "ins"] == ["a"]


def test_assignment_gives_each_record_to_overlap_reviewers() -> None:
    names = ["alice", "bob", "carol"]
    for i in range(50):
        owners = [n for n in names if assigned(f"r{i}", n, names, 2)]
        assert len(owners) == 2
    assert all(assigned(f"r{i}", "alice", names, 3) for i in range(10))
