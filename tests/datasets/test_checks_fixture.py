"""The committed fixture set: every planted defect found on its line, nothing in the clean part,
the same report twice."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from datasets.checks import check_file, golden_fingerprint

FIXTURES = Path(__file__).parent / "fixtures"
EXPECTED = json.loads((FIXTURES / "expected.json").read_text())


@pytest.fixture(scope="module")
def report():
    golden = golden_fingerprint(FIXTURES / "golden.jsonl")
    return check_file(FIXTURES / "training.jsonl", kind="training", base_model=EXPECTED["base_model"], goldens=[golden])


def test_it_finds_every_planted_defect_on_its_line_and_nothing_else(report):
    found = sorted([f["line"], f["code"]] for f in report["findings"] if f["line"] > 0)
    assert found == EXPECTED["training.jsonl"]


def test_it_finds_nothing_in_the_clean_part(report):
    assert [f for f in report["findings"] if 0 < f["line"] <= EXPECTED["clean_lines"]] == []
    clean = check_file(FIXTURES / "clean.jsonl", kind="training", base_model="gpt-4o-mini")
    assert clean["findings"] == []
    assert clean["blocking"] == 0


def test_it_counts_three_verbatim_and_two_paraphrased_leaks(report):
    items = report["leakage"]["items"]
    assert [i["golden_item"] for i in items if i["match"] == "exact"] == [0, 1, 2, 2]
    assert [i["golden_item"] for i in items if i["match"] == "near"] == [3, 4]
    assert report["counts"]["golden_leak_exact"] == 4
    assert report["blocking"] > 0


def test_it_never_stores_personal_data_in_clear(report):
    dumped = json.dumps(report)
    for secret in ("jane.roe@example.org", "7946 0958", "3704 0044", "4111 1111", "203.0.113.42"):
        assert secret not in dumped
    assert report["pii"] == {"email": 1, "phone": 1, "iban": 1, "card": 1, "ip": 1}


def test_it_gives_the_same_report_twice(report):
    golden = golden_fingerprint(FIXTURES / "golden.jsonl")
    again = check_file(
        FIXTURES / "training.jsonl", kind="training", base_model=EXPECTED["base_model"], goldens=[golden]
    )
    assert json.dumps(again) == json.dumps(report)


def test_it_keeps_no_golden_text_in_the_fingerprint():
    golden = golden_fingerprint(FIXTURES / "golden.jsonl")
    first_prompt = json.loads((FIXTURES / "golden.jsonl").read_text().splitlines()[0])["messages"][0]["content"]
    assert first_prompt.split()[0].lower() not in json.dumps(golden).lower() or len(first_prompt.split()[0]) < 4
    assert golden["items"] == 20
    json.dumps(golden)
