"""The side-by-side runs list in the admin: each run's headline in one row, filtered by model and judge."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from registry import services
from tests.conftest import model_payload, version_payload
from tests.sbs.admin_fixtures import admin_for, small_run
from tests.sbs.helpers import golden_version, run


@pytest.fixture(autouse=True)
def _storage(settings, tmp_path):
    settings.DATASET_STORAGE = tmp_path / "datasets"


def rows_of(text: str) -> list[str]:
    return re.findall(
        r"<tr>\s*<td class=\"action-checkbox\">.*?</tr>|<tr>(?:(?!</tr>).)*?field-run.*?</tr>", text, re.S
    )


def test_it_lists_each_run_with_its_interval_and_human_share(
    compliance, engineer, registered_version, django_assert_max_num_queries
):
    first = small_run(registered_version, engineer)
    other_model = services.model_create(actor=engineer, **model_payload())
    other_version = services.version_register(model=other_model, actor=engineer, **version_payload())
    golden = first.golden
    # 2 wins, 1 loss judged by another judge, nobody human: (2 + 0) / 3.
    second = run(
        other_version,
        engineer,
        golden,
        [{"item": "b1", "outcome": "win"}, {"item": "b2", "outcome": "win"}, {"item": "b3", "outcome": "loss"}],
        judge="claude-judge",
    )
    client = admin_for(compliance)
    with django_assert_max_num_queries(12):
        response = client.get(reverse("admin:sbs_sbsrun_changelist"))
    assert response.status_code == 200
    text = response.content.decode()
    # The first run: 6 of 9 (tests.sbs.admin_fixtures), Wilson [0.354, 0.879] at z = 1.96; 4 of 9 rated by a human.
    assert re.search(
        rf"{registered_version.model.name} {registered_version.version}<br>.*?run {first.pk}<.*?support-golden v1.*?"
        r"gpt-judge.*?>9<.*?<strong>0\.667</strong><br><span class=\"quiet\">\[0\.354, 0\.879\]<.*?44\.4%",
        text,
        re.S,
    )
    assert re.search(rf"{other_model.name} .*?run {second.pk}<.*?claude-judge.*?>3<.*?>0\.667<.*?>0%<", text, re.S)


def test_it_filters_by_judge_and_by_model(compliance, engineer, registered_version):
    first = small_run(registered_version, engineer)
    other_model = services.model_create(actor=engineer, **model_payload())
    other_version = services.version_register(model=other_model, actor=engineer, **version_payload())
    golden_other = golden_version(engineer, [("q1", ["refunds"])], name="refunds-golden")
    second = run(other_version, engineer, golden_other, [{"item": "q1", "outcome": "win"}], judge="claude-judge")
    client = admin_for(compliance)
    url = reverse("admin:sbs_sbsrun_changelist")
    by_judge = client.get(url + "?judge=claude-judge").content.decode()
    assert "refunds-golden v1" in by_judge and "support-golden v1" not in by_judge
    by_model = client.get(url + f"?version__model__id__exact={registered_version.model_id}").content.decode()
    assert "support-golden v1" in by_model and "refunds-golden v1" not in by_model
    by_version = client.get(url + f"?version__id__exact={other_version.pk}").content.decode()
    assert f"run {second.pk}<" in by_version and f"run {first.pk}<" not in by_version
