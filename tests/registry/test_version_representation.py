"""The hand-written version and evaluation output equals what DRF's declared fields give."""

from __future__ import annotations

from django.utils import timezone
from rest_framework import serializers

from registry import services
from registry.api.serializers import EvaluationOutputSerializer, VersionDetailSerializer, VersionOutputSerializer
from registry.selectors import version_get
from tests.conftest import evaluation_payload
from tests.registry.test_data_card import checked


def test_it_renders_a_version_exactly_as_its_declared_fields_do(engineer, compliance, registered_version):
    services.evaluation_record(version=registered_version, actor=engineer, **evaluation_payload(suite="second"))
    services.version_retire(version=registered_version, actor=compliance, reason="old")
    version = version_get(model_name=registered_version.model.name, version=registered_version.version)
    serializer = VersionOutputSerializer()

    fast = serializer.to_representation(version)
    generic = serializers.ModelSerializer.to_representation(serializer, version)

    assert fast == generic
    assert fast["retired_at"] is not None
    assert len(fast["evaluations"]) == 2


def test_it_renders_an_evaluation_exactly_as_its_declared_fields_do(engineer, registered_version, settings):
    settings.TIME_ZONE = "Europe/Paris"  # non-UTC rendering too
    evaluation = services.evaluation_record(
        version=registered_version, actor=engineer, ran_at=timezone.now(), **evaluation_payload(metrics={"win_rate": 1})
    )
    serializer = EvaluationOutputSerializer()

    assert serializer.to_representation(evaluation) == serializers.ModelSerializer.to_representation(
        serializer, evaluation
    )


def test_a_freshly_registered_version_renders_like_a_stored_one(engineer, registered_version):
    stored = version_get(model_name=registered_version.model.name, version=registered_version.version)

    fresh = VersionOutputSerializer(registered_version).data
    again = VersionOutputSerializer(stored).data

    assert fresh == again


def test_it_renders_a_version_detail_exactly_as_its_declared_fields_do(registered_version):
    from registry.models import Checkpoint

    Checkpoint.objects.create(
        version=registered_version,
        provider_checkpoint_id="ftckpt-1",
        step_number=30,
        metrics={"train_loss": 0.4},
        created_at=timezone.now(),
    )
    version = version_get(model_name=registered_version.model.name, version=registered_version.version)
    serializer = VersionDetailSerializer()

    assert serializer.to_representation(version) == serializers.ModelSerializer.to_representation(serializer, version)


def test_a_list_row_renders_exactly_as_the_version_itself(engineer, compliance, registered_version):
    from registry.data_cards import with_data_cards
    from registry.selectors import version_list, with_evaluations, with_runways

    services.evaluation_record(version=registered_version, actor=engineer, **evaluation_payload(suite="second"))
    services.version_retire(version=registered_version, actor=compliance, reason="old")
    checked(registered_version.training_file_sha256, engineer)  # a data card too
    [row] = with_data_cards(with_runways(with_evaluations(list(version_list(model=registered_version.model)))))
    version = version_get(model_name=registered_version.model.name, version=registered_version.version)

    assert VersionOutputSerializer(row).data == VersionOutputSerializer(version).data
