"""The version's admin page lists its side-by-side runs; its evaluations say where their win rate comes from."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from tests.conftest import evaluation_payload
from tests.sbs.admin_fixtures import admin_for, small_run

TYPED_IN = "typed in, not supported by verdicts"


@pytest.fixture(autouse=True)
def _storage(settings, tmp_path):
    settings.DATASET_STORAGE = tmp_path / "datasets"


def test_the_version_page_lists_its_runs_with_links(compliance, engineer, registered_version):
    sbs_run = small_run(registered_version, engineer)
    text = admin_for(compliance).get(reverse("admin:registry_modelversion_change", args=[registered_version.pk]))
    text = text.content.decode()
    rows = re.findall(r'<tr class="fp-sbs-run">(.*?)</tr>', text, re.S)
    assert len(rows) == 1
    assert reverse("admin:sbs_sbsrun_change", args=[sbs_run.pk]) in rows[0]
    assert "support-golden v1" in rows[0] and "gpt-judge" in rows[0]
    assert "0.667 [" in rows[0]
    changelist = reverse("admin:sbs_sbsrun_changelist") + f"?version__id__exact={registered_version.pk}"
    assert changelist in text


def test_a_version_without_runs_says_so(compliance, registered_version):
    page = admin_for(compliance).get(reverse("admin:registry_modelversion_change", args=[registered_version.pk]))
    assert "No side-by-side run" in page.content.decode()


def test_evaluation_rows_say_typed_in_or_link_their_run(compliance, engineer, registered_version):
    # registered_version carries one evaluation typed in by hand (tests.conftest.evaluation_payload).
    assert "win_rate" in evaluation_payload()["metrics"]
    sbs_run = small_run(registered_version, engineer)
    client = admin_for(compliance)
    page = client.get(reverse("admin:registry_modelversion_change", args=[registered_version.pk])).content.decode()
    assert page.count(TYPED_IN) == 1
    link = reverse("admin:sbs_sbsrun_change", args=[sbs_run.pk])
    assert f'<a class="fp-from-run" href="{link}">from SBS run {sbs_run.pk}</a>' in page
    listing = client.get(reverse("admin:registry_evaluationresult_changelist")).content.decode()
    assert listing.count(TYPED_IN) == 1
    assert f"from SBS run {sbs_run.pk}" in listing
