"""Per-record checks: positives, and the hard negatives each one must leave alone."""

from __future__ import annotations

import pytest

import curata.checks  # noqa: F401 - registers the checks
from tests.checks.helpers import chat, flagged, run_check

LONG_PROSE = (
    "The committee met on Tuesday to discuss the budget for the coming year, and after a long debate "
    "about priorities the members agreed that the library, the parks and the schools would receive "
    "most of the new money while roads would wait another year for repairs"
)
POEM = """The tide comes in, the tide goes out,
I wait for you upon the shore.
The gulls are wheeling round about,
I wait for you upon the shore.
The lantern flickers, night is cold,
I wait for you upon the shore.
And though the sea grows grey and old,
I wait for you upon the shore."""


# -- truncated_response -----------------------------------------------------------------------
@pytest.mark.parametrize(
    "answer",
    [
        LONG_PROSE + " and the",
        "Here is the function:\n```python\ndef add(a, b):\n    return a +",
        '{"name": "Ada", "skills": ["math", "poetry"',
        "Steps:\n1. Preheat the oven.\n2. Mix the flour.\n3.",
        LONG_PROSE + ", and then",
    ],
)
def test_truncated_response_flags_cut_answers(answer: str) -> None:
    assert flagged("truncated_response", chat("Explain.", answer))


@pytest.mark.parametrize(
    "answer",
    [
        "Here is the function:\n```python\ndef add(a, b):\n    return a + b\n```",
        LONG_PROSE + ".",
        "positive",
        "Paris",
        "| name | age |\n| --- | --- |\n| Ada | 36 |",
        "See the docs at https://docs.python.org/3/library/re.html",
        "SELECT name FROM users WHERE age > 30;",
        '{"name": "Ada", "skills": ["math", "poetry"]}',
    ],
)
def test_truncated_response_ignores_complete_answers(answer: str) -> None:
    assert not flagged("truncated_response", chat("Explain.", answer))


def test_truncated_response_ignores_inline_triple_backticks_and_verse() -> None:
    inline = "Run ```git submodule add <url> snippets/``` in ~/.janus.\n\nThen ```git commit``` and push."
    verse = "Roses are red\nViolets are blue\nThe sea is wide\nAnd I miss you\n" * 3
    assert run_check("truncated_response", chat("How?", inline)) is None
    assert not flagged("truncated_response", chat("Write a poem.", verse.strip() + "\n" + LONG_PROSE))


def test_truncated_response_keeps_a_missing_full_stop_under_the_drop_threshold() -> None:
    result = run_check("truncated_response", chat("Explain.", LONG_PROSE))
    assert result is not None and 0 < result.value < 0.5


def test_truncated_response_ignores_closed_code_block_at_the_end() -> None:
    answer = "Use a dictionary comprehension:\n\n```python\nsquares = {n: n * n for n in range(10)}\n```"
    assert run_check("truncated_response", chat("Show me.", answer)) is None


# -- refusal ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "answer",
    [
        "I'm sorry, but I can't help with that request.",
        "As an AI language model, I cannot provide medical diagnoses.",
        "I must respectfully decline to write that.",
        "Unfortunately, I am unable to assist with creating malware.",
        "That request goes against my guidelines, so I won't write it.",
        "Lo siento, no puedo ayudar con eso.",
    ],
)
def test_refusal_flags_many_phrasings(answer: str) -> None:
    assert flagged("refusal", chat("Do the thing.", answer))


@pytest.mark.parametrize(
    "answer",
    [
        "The ship's computer blinked. \"I'm sorry, Dave, but I cannot do that,\" it said, and the "
        "astronaut laughed, because he had already opened the pod bay doors by hand.",
        "> I'm sorry, but I cannot help with that.\n\nThat is the reply the old chatbot gave; the new "
        "one answers the question.",
        "I can't help but smile when I think of the summer we spent by the lake.",
        "As an AI language model, I can share some facts about dolomite: it is a carbonate rock.",
    ],
)
def test_refusal_ignores_quoted_refusals_and_idioms(answer: str) -> None:
    assert not flagged("refusal", chat("Tell me a story.", answer))


# -- repetition -------------------------------------------------------------------------------
def test_repetition_flags_a_loop() -> None:
    assert flagged("repetition", chat("Say something.", "I like apples. " * 15))


def test_repetition_flags_repeated_ngrams_across_lines() -> None:
    block = "the quick brown fox jumps over the lazy dog near the river bank today "
    assert flagged("repetition", chat("Say something.", (block * 8).strip()))


def test_repetition_ignores_a_poem_with_a_refrain() -> None:
    assert not flagged("repetition", chat("Write a poem about waiting.", POEM))


def test_repetition_ignores_repeated_table_cells() -> None:
    answer = "The column types are:\n" + "\n".join(["boolean"] * 5) + "\nand the rest are strings of text."
    assert not flagged("repetition", chat("What types?", answer))


def test_repetition_ignores_a_normal_list() -> None:
    answer = "\n".join(f"- Step {i}: mix ingredient number {i} with water" for i in range(1, 9))
    assert not flagged("repetition", chat("Give steps.", answer))


# -- placeholder ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("prompt", "answer"),
    [
        ("Who are you?", "I am {{name}}, an AI assistant developed by {{author}}."),
        ("Summarise <noinput>", "There is nothing to summarise."),
        ("Write a letter.", "Dear Sir, [insert the date here] I am writing to you about the flat."),
        ("Write filler.", "Lorem ipsum dolor sit amet, consectetur adipiscing elit."),
        ("Write the intro.", "TODO: write the introduction."),
    ],
)
def test_placeholder_flags_template_artifacts(prompt: str, answer: str) -> None:
    assert flagged("placeholder", chat(prompt, answer))


@pytest.mark.parametrize(
    "answer",
    [
        "In Jinja you write:\n```html\n<p>Hello {{ user.name }}</p>\n```",
        "In a workflow use `${{ github.repository }}` or {{ github.repository }} in the step name.",
        "Add a TODO comment in the code:\n```python\n# TODO: handle errors\n```",
        "[Enter FATHER, MOTHER, and HYRUM]\nFATHER: Sit down, both of you.",
    ],
)
def test_placeholder_ignores_template_code(answer: str) -> None:
    assert not flagged("placeholder", chat("How do templates work?", answer))


# -- encoding_error ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "answer", ["The cafÃ© serves naÃ¯ve crÃªpes.", "Broken \ufffd text", "A bell\x07 rings."]
)
def test_encoding_error_flags_mojibake_and_control_characters(answer: str) -> None:
    assert flagged("encoding_error", chat("Describe.", answer))


@pytest.mark.parametrize(
    "answer", ["Le café sert des crêpes naïves.", "東京は日本の首都です。", "Tabs\tand\nnewlines are fine 😀"]
)
def test_encoding_error_ignores_clean_unicode(answer: str) -> None:
    assert not flagged("encoding_error", chat("Describe.", answer))


# -- pii --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "answer",
    [
        "Write to maria.lopez@gmail.com for the tickets.",
        "Call me on +44 20 7946 0958 tomorrow.",
        "My card is 4539 1488 0343 6467, expiry 09/27.",
        "Transfer to DE89 3704 0044 0532 0130 00 please.",
        "export OPENAI_API_KEY=sk-proj-" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8",
        "key = 'AKIAIOSFODNN7EXAMPLE'",
    ],
)
def test_pii_flags_contacts_cards_ibans_and_keys(answer: str) -> None:
    assert flagged("pii", chat("Details?", answer))


@pytest.mark.parametrize(
    "answer",
    [
        "```python\nsend_mail(to='alice@corp-mail.io', subject='hi')\n```",
        "Use an address such as jane@example.com in the docs.",
        "The card number 4539 1488 0343 6468 fails the Luhn check.",
        "In 1999 there were 1234 5678 visitors.",
        "The IBAN DE89 3704 0044 0532 0130 01 has a bad checksum.",
    ],
)
def test_pii_ignores_code_examples_and_invalid_numbers(answer: str) -> None:
    assert not flagged("pii", chat("Details?", answer))


# -- language_mismatch ------------------------------------------------------------------------
def test_language_mismatch_flags_an_answer_in_another_language() -> None:
    record = chat(
        "What is the best way to learn to play the piano as an adult beginner?",
        "Le meilleur moyen est de pratiquer un peu chaque jour avec un professeur patient.",
    )
    assert flagged("language_mismatch", record)


@pytest.mark.parametrize(
    ("prompt", "answer"),
    [
        ("Translate to French: the cat sleeps on the warm window sill.", "Le chat dort sur le rebord chaud."),
        (
            "What is the best way to learn to play the piano as an adult beginner?",
            "Practise a little every day, and find a patient teacher who likes adults.",
        ),
        (
            "Write a function that adds two numbers together.",
            "```python\ndef add(a, b):\n    return a + b\n```",
        ),
    ],
)
def test_language_mismatch_ignores_translations_same_language_and_code(prompt: str, answer: str) -> None:
    assert not flagged("language_mismatch", chat(prompt, answer))


# -- empty_response ---------------------------------------------------------------------------
def test_empty_response_flags_whitespace_answers() -> None:
    assert flagged("empty_response", chat("Hello?", "  \n"))
    assert not flagged("empty_response", chat("Hello?", "Hi."))
