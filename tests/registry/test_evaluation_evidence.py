"""An evaluation says whether verdicts support it: the run behind it and its figures in short, or typed in.

Everywhere the API shows evaluations (version detail, lists, the evaluations endpoint), in a fixed
number of queries. The version's record, which approvals and incidents fingerprint, leaves the
support out. Clients can neither type computed metrics nor the evidence itself.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework import serializers

from registry import services
from registry.api.serializers import EvaluationOutputSerializer, VersionOutputSerializer
from registry.models import EvaluationResult, ModelVersion
from registry.selectors import version_get, version_record, version_row
from tests.conftest import evaluation_payload, version_payload
from tests.sbs.helpers import golden_version, run

# b0..b5 billing, r0..r3 returns.
ITEMS = [(f"b{i}", ["billing"]) for i in range(6)] + [(f"r{i}", ["returns"]) for i in range(4)]
JUDGE = {
    "b0": "win", "b1": "win", "b2": "win", "b3": "win", "b4": "tie", "b5": "loss",
    "r0": "win", "r1": "loss", "r2": "loss", "r3": "loss",
}  # fmt: skip
# A human agrees with the judge on 3 items, so no item's outcome moves.
HUMAN = {"b0": "win", "b5": "loss", "r1": "loss"}


def hand_wilson(successes: float, n: int) -> tuple[float, float]:
    z2 = 1.959963984540054**2
    p = successes / n
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = (z2**0.5 / (1 + z2 / n)) * (p * (1 - p) / n + z2 / (4 * n * n)) ** 0.5
    return centre - half, centre + half


def expected_evidence() -> dict:
    # billing: 4 wins, 1 tie, 1 loss -> 4.5 / 6 = 0.75; returns: 1 win, 3 losses -> 0.25;
    # overall: 5 wins, 1 tie, 4 losses -> 5.5 / 10 = 0.55. Humans rated 3 of 10 items.
    # Judge-human pairs: win/win, loss/loss, loss/loss: agreement 1, chance (1·1 + 2·2) / 9, kappa 1.
    def tally(successes, n, **counts):
        lower, upper = hand_wilson(successes, n)
        return {"n": n, **counts, "win_rate": successes / n, "lower": lower, "upper": upper}

    return {
        "overall": tally(5.5, 10, wins=5, ties=1, losses=4),
        "per_intent": {"billing": tally(4.5, 6), "returns": tally(1, 4)},
        "human_share": 0.3,
        "judge_human_kappa": 1.0,
    }


def with_run(version, engineer, golden=None):
    golden = golden or golden_version(engineer, ITEMS)
    verdicts = [{"item": item, "outcome": outcome} for item, outcome in JUDGE.items()]
    verdicts += [{"item": i, "outcome": o, "judge": "human", "rater": "hana"} for i, o in HUMAN.items()]
    return run(version, engineer, golden, verdicts)


def rounded(value):
    """Every float to 4 decimals, in nested dicts too: the figures are pinned to 4 decimals."""
    if isinstance(value, dict):
        return {key: rounded(v) for key, v in value.items()}
    return round(value, 4) if isinstance(value, float) else value


def entries(body: dict) -> dict[str, dict]:
    """A version's evaluations by how they are supported."""
    return {e["supported_by"]: e for e in body["evaluations"]}


def assert_shows_the_run(entry: dict, found) -> None:
    assert entry["supported_by"] == "verdicts"
    assert entry["sbs_run"] == found.pk
    assert entry["id"] == found.evaluation_id
    assert rounded(entry["evidence"]) == rounded(expected_evidence())


def test_an_evaluation_from_a_run_names_the_run_and_its_figures(api, engineer, executive, registered_version):
    found = with_run(registered_version, engineer)
    model, label = registered_version.model.name, registered_version.version
    client = api(executive)

    detail = client.get(f"/api/v1/models/{model}/versions/{label}/").json()
    listed = client.get(f"/api/v1/models/{model}/versions/").json()["results"][0]
    searched = client.get("/api/v1/versions/", {"model": model}).json()["results"][0]
    evaluations = client.get(f"/api/v1/models/{model}/versions/{label}/evaluations/").json()["results"]

    for body in (detail, listed, searched, {"evaluations": evaluations}):
        shown = entries(body)
        assert_shows_the_run(shown["verdicts"], found)
        # registered_version's first evaluation was typed in by hand.
        assert {k: shown["typed"][k] for k in ("sbs_run", "evidence")} == {"sbs_run": None, "evidence": None}
        assert shown["verdicts"]["metrics"]["win_rate_lower"] == pytest.approx(hand_wilson(5.5, 10)[0], abs=5e-5)


def test_an_evaluation_from_a_run_renders_as_its_declared_fields_do(engineer, registered_version):
    found = with_run(registered_version, engineer)
    evaluation = EvaluationResult.objects.get(pk=found.evaluation_id)
    serializer = EvaluationOutputSerializer()

    fast = serializer.to_representation(evaluation)

    assert fast == serializers.ModelSerializer.to_representation(serializer, evaluation)
    assert fast["supported_by"] == "verdicts"


def test_a_list_row_shows_the_support_as_the_version_itself_does(engineer, registered_version):
    from registry.data_cards import with_data_cards
    from registry.selectors import version_list, with_evaluations, with_runways

    with_run(registered_version, engineer)
    [row] = with_data_cards(with_runways(with_evaluations(list(version_list(model=registered_version.model)))))
    version = version_get(model_name=registered_version.model.name, version=registered_version.version)

    shown = VersionOutputSerializer(row).data
    assert shown == VersionOutputSerializer(version).data
    assert [e["supported_by"] for e in shown["evaluations"]] == ["verdicts", "typed"]


def test_the_record_approvals_fingerprint_leaves_the_support_out(engineer, registered_version):
    with_run(registered_version, engineer)
    version = version_get(model_name=registered_version.model.name, version=registered_version.version)

    record = version_record(version_row(version))

    for entry in record["evaluations"]:
        assert set(entry) == {
            "id", "suite", "golden_set_sha256", "baseline_version", "metrics", "per_intent", "ran_by", "ran_at",
            "created_at",
        }  # fmt: skip


def count_queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


def test_lists_read_the_support_in_a_constant_number_of_queries(api, engineer, registered_version):
    golden = golden_version(engineer, ITEMS)
    model = registered_version.model
    for _ in range(12):
        version = services.version_register(model=model, actor=engineer, **version_payload())
        with_run(version, engineer, golden)
    for _ in range(5):
        with_run(registered_version, engineer, golden)
    client = api(engineer)
    client.get("/api/v1/versions/")  # the token's first use is recorded (at most hourly): not a cost of a page

    for url in (f"/api/v1/models/{model.name}/versions/", "/api/v1/versions/"):
        assert count_queries(client, f"{url}?page_size=2") == count_queries(client, f"{url}?page_size=13")
        # token+user, roles, the model, the page, its evaluations, the page's runways, the page's data cards
        assert count_queries(client, f"{url}?page_size=13") <= 7
    evaluations = f"/api/v1/models/{model.name}/versions/{registered_version.version}/evaluations/"
    assert count_queries(client, f"{evaluations}?page_size=2") == count_queries(client, f"{evaluations}?page_size=6")
    assert ModelVersion.objects.filter(model=model).count() == 13


def url(version) -> str:
    return f"/api/v1/models/{version.model.name}/versions/{version.version}/evaluations/"


@pytest.mark.parametrize(
    "metric", ["win_rate_lower", "win_rate_upper", "comparisons", "human_rated_share", "judge_human_kappa"]
)
def test_it_refuses_a_computed_metric_typed_in(api, engineer, registered_version, metric):
    payload = evaluation_payload(metrics={"win_rate": 0.6, metric: 0.5})

    response = api(engineer).post(url(registered_version), payload, format="json")

    assert response.status_code == 400
    fields = response.json()["error"]["fields"]
    assert list(fields) == [f"metrics.{metric}"]
    assert "post the verdicts to .../versions/{version}/sbs-runs/" in fields[f"metrics.{metric}"][0]
    assert EvaluationResult.objects.filter(version=registered_version).count() == 1


@pytest.mark.parametrize(
    ("field", "value"),
    [("evidence", {"overall": {"n": 500, "win_rate": 0.9}}), ("supported_by", "verdicts"), ("sbs_run", 1)],
)
def test_it_refuses_evidence_typed_by_a_client(api, engineer, registered_version, field, value):
    payload = {**evaluation_payload(), field: value}

    response = api(engineer).post(url(registered_version), payload, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {field: ["Unknown field."]}
    assert EvaluationResult.objects.filter(version=registered_version).count() == 1


def test_it_refuses_evidence_typed_in_an_evaluation_inline_at_registration(api, engineer, registered_model):
    payload = {**version_payload(), "evaluations": [{**evaluation_payload(), "evidence": {"overall": {"n": 500}}}]}

    response = api(engineer).post(f"/api/v1/models/{registered_model.name}/versions/", payload, format="json")

    assert response.status_code == 400
    assert "evidence" in str(response.json()["error"]["fields"])
    assert not ModelVersion.objects.filter(model=registered_model).exists()


def test_a_typed_evaluation_says_so(api, engineer, registered_version):
    response = api(engineer).post(url(registered_version), evaluation_payload(suite="typed"), format="json")

    assert response.status_code == 201
    body = response.json()
    assert (body["supported_by"], body["sbs_run"], body["evidence"]) == ("typed", None, None)
