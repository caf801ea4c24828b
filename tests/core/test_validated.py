"""validated(): one input serializer per thread and class, and nothing of one body left for the next."""

from __future__ import annotations

import threading

import pytest
from rest_framework.exceptions import ValidationError

from core.serializers import _validator, _validators, validated
from registry.api.serializers import VersionRegisterSerializer
from tests.conftest import evaluation_payload, version_payload


def _errors(data) -> dict:
    with pytest.raises(ValidationError) as raised:
        validated(VersionRegisterSerializer, data)
    return raised.value.detail


def test_each_body_is_judged_on_its_own():
    first = validated(VersionRegisterSerializer, version_payload(version="v1", evaluations=[evaluation_payload()]))
    bad = _errors({**version_payload(version="v2"), "evaluations": [{"suite": ""}], "status": "production"})
    second = validated(VersionRegisterSerializer, version_payload(version="v3"))
    again = _errors({**version_payload(version="v4"), "training_file_sha256": "not a hash"})

    assert first["version"] == "v1" and len(first["evaluations"]) == 1
    assert set(bad) == {"evaluations", "status"} and "suite" in bad["evaluations"][0]
    assert second["version"] == "v3" and "evaluations" not in second  # nothing carried over from the first
    assert set(again) == {"training_file_sha256"}  # nor the errors of the bad one


def test_a_thread_keeps_one_serializer_per_class_and_threads_do_not_share():
    mine = _validator(VersionRegisterSerializer, {})
    assert _validator(VersionRegisterSerializer, {}) is mine
    theirs = []
    thread = threading.Thread(target=lambda: theirs.append(_validator(VersionRegisterSerializer, {})))
    thread.start()
    thread.join()
    assert theirs[0] is not mine


def test_the_kept_serializer_holds_nothing_of_the_last_body():
    validated(VersionRegisterSerializer, version_payload(version="v9"))
    with pytest.raises(ValidationError):
        validated(VersionRegisterSerializer, {"version": "v10"})
    kept = _validators.by_class[VersionRegisterSerializer]
    assert not {"initial_data", "_validated_data", "_errors", "_data"} & set(vars(kept))
