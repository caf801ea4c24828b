"""A side-by-side run's admin page: the headline, the per-intent chart, the losses and the agreement."""

from __future__ import annotations

import math
import re

import pytest
from django.urls import reverse

from registry import gates
from tests.conftest import make_user
from tests.sbs.admin_fixtures import COMMENT, admin_for, small_run

PLOT_LEFT, PLOT_WIDTH = 248, 300  # the chart maps a win rate of 0..1 onto these pixels


def hand_wilson(x: float, n: int) -> tuple[float, float]:
    z = 1.959963984540054
    p = x / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


@pytest.fixture(autouse=True)
def _storage(settings, tmp_path):
    settings.DATASET_STORAGE = tmp_path / "datasets"


@pytest.fixture
def sbs_run(registered_version, engineer):
    return small_run(registered_version, engineer)


def page_of(user, run) -> str:
    response = admin_for(user).get(reverse("admin:sbs_sbsrun_change", args=[run.pk]))
    assert response.status_code == 200
    return response.content.decode()


def test_it_shows_the_headline_figures(compliance, sbs_run):
    text = page_of(compliance, sbs_run)
    lower, upper = hand_wilson(6, 9)  # (5 wins + 2 ties / 2) of 9 items
    headline = re.search(r'<p class="fp-headline" id="headline">(.*?)</p>', text, re.S).group(1)
    assert "<strong>0.667</strong>" in headline
    assert f"[{lower:.3f}, {upper:.3f}]" in headline
    assert "n = 9 items: 5 wins, 2 ties (half a win each), 2 losses" in headline
    assert "4 items (44.4%)" in text  # rated by a human
    assert "13 from 2 raters on 9 items: 100% of the golden set version" in text


def test_its_chart_has_one_bar_per_intent_with_its_interval(compliance, sbs_run):
    text = page_of(compliance, sbs_run)
    svg = re.search(r'<svg class="fp-winrates".*?</svg>', text, re.S).group(0)
    intents = re.findall(r'<g class="fp-row fp-intent">(.*?)</g>', svg, re.S)
    assert len(intents) == 2
    assert len(re.findall(r'class="fp-bar"', svg)) == 3  # the overall row and the two intents
    expected = {"billing": (4.5, 7), "returns": (1.5, 3)}
    widths = {}
    for row in intents:
        name = re.search(r"<title>(\w+):", row).group(1)
        x, n = expected.pop(name)
        lower, upper = hand_wilson(x, n)
        x1, x2 = map(float, re.search(r'class="fp-whisker" x1="([\d.]+)" y1="[\d.]+" x2="([\d.]+)"', row).groups())
        assert x1 == pytest.approx(PLOT_LEFT + PLOT_WIDTH * lower, abs=0.06)
        assert x2 == pytest.approx(PLOT_LEFT + PLOT_WIDTH * upper, abs=0.06)
        assert f"n {n}" in row
        assert f"{x / n:.3f} [{lower:.3f}, {upper:.3f}]" in row
        widths[name] = x2 - x1
    assert expected == {}
    assert widths["returns"] > widths["billing"]  # 3 items: a visibly wider interval than 7


def test_it_draws_a_line_at_one_half_and_at_the_gates_minimum(compliance, engineer, sbs_run):
    text = page_of(compliance, sbs_run)
    # The default gate's win_rate minimum (settings: 0.55) over the overall row.
    assert re.search(rf'class="fp-even" x1="{PLOT_LEFT + PLOT_WIDTH * 0.5:.1f}"', text)
    assert re.search(rf'class="fp-gate-overall" x1="{PLOT_LEFT + PLOT_WIDTH * 0.55:.1f}"', text)
    gates.gate_policy_create(
        model=sbs_run.version.model,
        actor=make_user("carl", "Compliance"),
        rules=[{"metric": "win_rate", "min": 0.6}],
        reason="A stricter gate",
    )
    text = page_of(compliance, sbs_run)
    assert re.search(rf'class="fp-gate-overall" x1="{PLOT_LEFT + PLOT_WIDTH * 0.6:.1f}"', text)
    assert "gate overall: the win rate at least 0.6" in text


def test_the_losses_list_holds_only_the_items_lost(compliance, sbs_run):
    text = page_of(compliance, sbs_run)
    section = re.search(r'<div class="module" id="losses">(.*?)</table>', text, re.S).group(1)
    assert "Items lost (2)" in section
    rows = re.findall(r'<tr class="fp-lost-item">(.*?)</tr>', section, re.S)
    assert [re.search(r"<code>(\w+)</code>", row).group(1) for row in rows] == ["b4", "x1"]
    b4, x1 = rows
    assert 'gpt-judge: <span class="fp-loss">loss</span>' in b4
    assert f'human:hana: <span class="fp-loss">loss</span> — {COMMENT}' in b4
    assert "billing, returns" in x1
    assert "not kept" in b4  # GOLDEN_KEEP_TEXT is off by default


def test_the_losses_show_the_prompt_when_it_is_kept(settings, compliance, registered_version, engineer):
    settings.GOLDEN_KEEP_TEXT = True
    text = page_of(compliance, small_run(registered_version, engineer))
    assert "Question number b4 about billing?" in text
    assert "Question number b1" not in text  # b1 was won


def test_it_says_how_well_the_judge_and_humans_agree(compliance, sbs_run):
    text = page_of(compliance, sbs_run)
    agreement = re.search(r'<div class="module" id="agreement">(.*?)</div>', text, re.S).group(1)
    assert "4 items rated by both (4 pairs of verdicts)" in agreement
    assert "same outcome in 75.0%" in agreement
    assert "Cohen's kappa 0.50, <strong>moderate</strong> agreement" in agreement
    pairs = re.search(r'<table[^>]*id="rater-pairs">(.*?)</table>', agreement, re.S).group(1)
    assert re.search(
        r"<td>gpt-judge</td><td>human:hana</td><td>4</td><td>75.0%</td>\s*<td>0.50 \(moderate\)</td>", pairs
    )


def test_it_links_the_version_the_evaluation_and_the_golden_set(compliance, sbs_run):
    text = page_of(compliance, sbs_run)
    assert reverse("admin:registry_modelversion_change", args=[sbs_run.version_id]) in text
    assert reverse("admin:registry_evaluationresult_change", args=[sbs_run.evaluation_id]) in text
    assert reverse("admin:datasets_goldenset_change", args=[sbs_run.golden.golden_set_id]) in text


def test_engineers_and_compliance_read_it_and_nobody_adds_changes_or_deletes(sbs_run):
    engineer = admin_for(make_user("erin2", "Engineers"))
    assert engineer.get(reverse("admin:sbs_sbsrun_change", args=[sbs_run.pk])).status_code == 200
    executive = admin_for(make_user("exec", "Executives"))  # kept to the report archive
    assert executive.get(reverse("admin:sbs_sbsrun_change", args=[sbs_run.pk])).status_code == 403
    compliance = admin_for(make_user("carla2", "Compliance"))
    assert compliance.get(reverse("admin:sbs_sbsrun_add")).status_code == 403
    assert compliance.post(reverse("admin:sbs_sbsrun_delete", args=[sbs_run.pk]), {"post": "yes"}).status_code == 403
    outsider = admin_for(make_user("staff-nobody"))
    assert outsider.get(reverse("admin:sbs_sbsrun_change", args=[sbs_run.pk])).status_code == 403


def test_an_intent_failing_the_per_intent_rule_is_marked_with_the_gates_reason(compliance, sbs_run):
    gates.gate_policy_create(
        model=sbs_run.version.model,
        actor=make_user("carl", "Compliance"),
        rules=[{"metric": "win_rate", "per_intent": True, "min": 0.5, "bound": "lower_ci", "min_n": 5}],
        reason="Per intent, with enough comparisons",
    )
    svg = re.search(r'<svg class="fp-winrates".*?</svg>', page_of(compliance, sbs_run), re.S).group(0)
    assert re.search(rf'class="fp-gate-intent" x1="{PLOT_LEFT + PLOT_WIDTH * 0.5:.1f}"', svg)
    rows = dict(re.findall(r'<g class="fp-row fp-intent"><title>(\w+):(.*?)</g>', svg, re.S))
    # returns: 3 comparisons, fewer than 5; billing: 7, but its lower bound is below 0.5.
    billing_lower, _ = hand_wilson(4.5, 7)
    assert "(gate: 3 comparisons, at least 5 required)" in rows["returns"]
    assert "✗ n &lt; 5" in rows["returns"]
    assert f"(gate: lower bound {billing_lower:.2f} below 0.5)" in rows["billing"]
    assert 'fill="#c62828"' in rows["billing"]
