from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.reverse import reverse

from core.serializers import StrictInputSerializer
from core.validation import sha256_validator
from datasets.models import CheckStatus, DatasetKind


class DatasetUploadSerializer(StrictInputSerializer):
    file = serializers.FileField(help_text="The JSONL file (multipart); at most DATASET_MAX_BYTES.")
    kind = serializers.ChoiceField(choices=DatasetKind.choices)
    base_model = serializers.CharField(max_length=200, help_text="The base model it is checked for, e.g. gpt-4.1-mini.")
    golden = serializers.ListField(
        child=serializers.CharField(max_length=64, validators=[sha256_validator]),
        required=False,
        max_length=50,
        help_text="SHA-256 of golden datasets to check leakage against, besides those the evaluations cite.",
    )


class DatasetRecheckSerializer(StrictInputSerializer):
    golden = serializers.ListField(
        child=serializers.CharField(max_length=64, validators=[sha256_validator]), required=False, max_length=50
    )


class DatasetListQuerySerializer(StrictInputSerializer):
    kind = serializers.ChoiceField(choices=DatasetKind.choices, required=False)
    base_model = serializers.CharField(max_length=200, required=False)
    cursor = serializers.CharField(required=False, max_length=1000)
    page_size = serializers.IntegerField(required=False, min_value=1, max_value=200)


class CheckStateSerializer(serializers.Serializer):
    """The latest check of a dataset: where it is."""

    status = serializers.ChoiceField(choices=CheckStatus.choices, allow_null=True)
    progress = serializers.IntegerField(allow_null=True, help_text="0-100.")
    url = serializers.CharField(help_text="Poll this for the check's status.")


class DatasetSerializer(serializers.Serializer):
    sha256 = serializers.CharField()
    kind = serializers.ChoiceField(choices=DatasetKind.choices)
    base_model = serializers.CharField()
    size_bytes = serializers.IntegerField()
    uploaded_by = serializers.CharField(source="uploaded_by.username")
    uploaded_at = serializers.DateTimeField()
    file_kept = serializers.SerializerMethodField()
    has_fingerprint = serializers.SerializerMethodField(help_text="Golden sets: whether fingerprints are stored.")
    blocking = serializers.IntegerField(allow_null=True, help_text="null until a check finished.")
    warnings = serializers.IntegerField(allow_null=True)
    checked_at = serializers.DateTimeField(allow_null=True)
    policy_version = serializers.IntegerField(allow_null=True, help_text="0: the built-in default policy.")
    golden_set = serializers.CharField(
        source="golden_set.name", allow_null=True, help_text="The golden set these bytes are a version of, if any."
    )
    golden_version = serializers.IntegerField(allow_null=True, help_text="Which version of it (1, 2, ...).")
    check = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()

    def get_file_kept(self, obj) -> bool:
        return bool(obj.file_path)

    def get_has_fingerprint(self, obj) -> bool:
        return obj.fingerprint is not None

    def _url(self, name: str, obj) -> str:
        return reverse(name, kwargs={"sha256": obj.sha256}, request=self.context.get("request"))

    @extend_schema_field(CheckStateSerializer)
    def get_check(self, obj) -> dict:
        return {
            "status": getattr(obj, "check_status", None),
            "progress": getattr(obj, "check_progress", None),
            "url": self._url("dataset-check", obj),
        }

    def get_url(self, obj) -> str:
        return self._url("dataset-detail", obj)


class DatasetDetailSerializer(DatasetSerializer):
    report = serializers.SerializerMethodField(help_text="The latest check's report (docs/datasets.md); null before.")
    overrides = serializers.SerializerMethodField()

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_report(self, obj) -> dict | None:
        return obj.report

    @extend_schema_field(
        {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "justification": {"type": "string"},
                    "created_by": {"type": "string"},
                    "created_at": {"type": "string", "format": "date-time"},
                    "blocking_at_override": {"type": "integer"},
                },
            },
        }
    )
    def get_overrides(self, obj) -> list[dict]:
        return [
            {
                "justification": row.justification,
                "created_by": row.created_by.username,
                "created_at": serializers.DateTimeField().to_representation(row.created_at),
                "blocking_at_override": row.blocking_at_override,
            }
            for row in obj.overrides.select_related("created_by").order_by("-created_at", "-id")
        ]


class DatasetCheckSerializer(serializers.Serializer):
    dataset = serializers.CharField(source="dataset.sha256")
    status = serializers.ChoiceField(choices=CheckStatus.choices)
    progress = serializers.IntegerField(help_text="0-100.")
    goldens = serializers.ListField(child=serializers.CharField(), help_text="Golden sets compared against.")
    requested_by = serializers.CharField(source="requested_by.username", allow_null=True)
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    error = serializers.CharField()


class GoldenVersionUploadSerializer(StrictInputSerializer):
    file = serializers.FileField(
        help_text="The golden set's JSONL (multipart): one item per line (docs/evaluation.md)."
    )
    description = serializers.CharField(
        required=False, allow_blank=True, max_length=2000, help_text="The set's description, kept on its first version."
    )
    base_model = serializers.CharField(
        required=False, max_length=200, help_text="The encoding the check counts tokens with (default gpt-4.1-mini)."
    )


class GoldenItemQuerySerializer(StrictInputSerializer):
    intent = serializers.CharField(required=False, max_length=64, help_text="Only the items tagged with this intent.")
    cursor = serializers.CharField(required=False, max_length=1000)
    page_size = serializers.IntegerField(required=False, min_value=1, max_value=500)


class GoldenPageQuerySerializer(StrictInputSerializer):
    cursor = serializers.CharField(required=False, max_length=1000)
    page_size = serializers.IntegerField(required=False, min_value=1, max_value=200)


class GoldenLatestSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    sha256 = serializers.CharField()


class GoldenSetSerializer(serializers.Serializer):
    name = serializers.CharField()
    description = serializers.CharField()
    created_by = serializers.CharField(source="created_by.username")
    created_at = serializers.DateTimeField()
    version_count = serializers.IntegerField(help_text="How many versions the set has.")
    latest_version = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()

    @extend_schema_field(GoldenLatestSerializer(allow_null=True))
    def get_latest_version(self, obj) -> dict | None:
        if obj.latest_version is None:
            return None
        return {"number": obj.latest_version, "sha256": obj.latest_sha256}

    def get_url(self, obj) -> str:
        return reverse("golden-set-detail", kwargs={"name": obj.name}, request=self.context.get("request"))


class GoldenVersionSerializer(serializers.Serializer):
    """A version of a golden set: the golden dataset of its bytes, with its item and per-intent counts."""

    golden_set = serializers.CharField(source="golden_set.name")
    number = serializers.IntegerField(source="golden_version")
    sha256 = serializers.CharField()
    item_count = serializers.IntegerField()
    intent_counts = serializers.DictField(child=serializers.IntegerField(), help_text="Intent -> items tagged with it.")
    uploaded_by = serializers.CharField(source="uploaded_by.username")
    uploaded_at = serializers.DateTimeField()
    check = serializers.SerializerMethodField(help_text="The dataset check (format, PII, fingerprint) of its bytes.")
    dataset_url = serializers.SerializerMethodField()
    items_url = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()

    def _url(self, name: str, obj) -> str:
        kwargs = {"name": obj.golden_set.name, "number": obj.golden_version}
        return reverse(name, kwargs=kwargs, request=self.context.get("request"))

    @extend_schema_field(CheckStateSerializer)
    def get_check(self, obj) -> dict:
        return {
            "status": getattr(obj, "check_status", None),
            "progress": getattr(obj, "check_progress", None),
            "url": reverse("dataset-check", kwargs={"sha256": obj.sha256}, request=self.context.get("request")),
        }

    def get_dataset_url(self, obj) -> str:
        return reverse("dataset-detail", kwargs={"sha256": obj.sha256}, request=self.context.get("request"))

    def get_items_url(self, obj) -> str:
        return self._url("golden-version-items", obj)

    def get_url(self, obj) -> str:
        return self._url("golden-version-detail", obj)


class GoldenSetDetailSerializer(GoldenSetSerializer):
    versions = serializers.SerializerMethodField(help_text="Oldest first.")

    @extend_schema_field(GoldenVersionSerializer(many=True))
    def get_versions(self, obj) -> list[dict]:
        return GoldenVersionSerializer(obj.version_rows, many=True, context=self.context).data


class MessageSerializer(serializers.Serializer):
    role = serializers.CharField()
    content = serializers.CharField()


class GoldenItemSerializer(serializers.Serializer):
    """An item as uploaded; its turns and reference answer only when GOLDEN_KEEP_TEXT kept them."""

    item_id = serializers.CharField()
    position = serializers.IntegerField(help_text="Its line's order in the file (0-based, blank lines skipped).")
    intents = serializers.ListField(child=serializers.CharField())
    prompt_hash = serializers.CharField(help_text="The hash of its normalised user turns (the fingerprint's).")
    text_kept = serializers.SerializerMethodField()
    messages = MessageSerializer(many=True, allow_null=True, help_text="null unless GOLDEN_KEEP_TEXT kept it.")
    reference = serializers.SerializerMethodField(help_text="null unless GOLDEN_KEEP_TEXT kept it.")

    def get_text_kept(self, obj) -> bool:
        return obj.messages is not None

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_reference(self, obj) -> str | None:
        return obj.reference if obj.messages is not None else None
