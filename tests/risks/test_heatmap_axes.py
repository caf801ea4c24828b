"""The heat map API names its axes: a reader of the JSON need not know that row 3 is 'Possible'."""

from __future__ import annotations

from risks import services
from tests.risks.conftest import risk_payload

LIKELIHOODS = ["Rare", "Unlikely", "Possible", "Likely", "Almost certain"]
IMPACTS = ["Negligible", "Minor", "Moderate", "Major", "Catastrophic"]


def test_it_names_the_rows_by_likelihood_and_the_columns_by_impact(api, executive):
    body = api(executive).get("/api/v1/risks/heatmap/").json()

    assert body["likelihood"] == [{"value": n, "name": name} for n, name in enumerate(LIKELIHOODS, start=1)]
    assert body["impact"] == [{"value": n, "name": name} for n, name in enumerate(IMPACTS, start=1)]


def test_it_keeps_the_matrices_existing_clients_read(api, compliance, executive):
    services.risk_create(
        actor=compliance,
        owner=compliance,
        **risk_payload(inherent_likelihood=5, inherent_impact=4, residual_likelihood=3, residual_impact=2),
    )

    body = api(executive).get("/api/v1/risks/heatmap/").json()

    assert {"inherent", "residual"} <= set(body)
    assert body["inherent"][4][3] == 1  # the row of 'Almost certain', the column of 'Major'
    assert body["residual"][2][1] == 1  # 'Possible', 'Minor'
    assert sum(map(sum, body["inherent"])) == sum(map(sum, body["residual"])) == 1


def test_it_gives_each_cell_its_band_laid_out_as_the_counts(api, executive):
    body = api(executive).get("/api/v1/risks/heatmap/").json()

    # Matrix 2026.1: score = likelihood x impact; low 1-4, medium 5-9, high 10-16, critical 17-25;
    # a catastrophic impact is never below high.
    assert body["matrix_version"] == "2026.1"
    assert body["bands"][0] == ["low", "low", "low", "low", "high"]  # Rare: 1, 2, 3, 4, then 5 lifted
    assert body["bands"][2] == ["low", "medium", "medium", "high", "high"]  # Possible: 3, 6, 9, 12, 15
    assert body["bands"][4] == ["medium", "high", "high", "critical", "critical"]  # Almost certain: 5 ... 25
