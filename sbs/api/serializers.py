from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.reverse import reverse

from core.serializers import StrictInputSerializer
from core.validation import sha256_validator
from datasets.api.serializers import MessageSerializer
from sbs import selectors
from sbs.models import Outcome

MAX_VERSION_NUMBER = 2**31 - 1


class VerdictSerializer(serializers.Serializer):
    """One verdict, as documented; sbs.services checks each (its messages name the verdict and its item)."""

    item = serializers.CharField(help_text="The golden item's id.")
    outcome = serializers.ChoiceField(choices=Outcome.choices, help_text="The candidate against the baseline.")
    judge = serializers.CharField(required=False, help_text="Defaults to the run's judge.")
    rater = serializers.CharField(required=False, help_text="Who among the judge's raters (one verdict per item each).")
    comment = serializers.CharField(required=False)


@extend_schema_field(VerdictSerializer)
class VerdictField(serializers.DictField):
    """A verdict object, passed to the service as it is: checking 10,000 through a nested serializer is slow."""


class _RunFields(StrictInputSerializer):
    golden_set_sha256 = serializers.CharField(
        required=False, max_length=64, validators=[sha256_validator], help_text="The golden set version's SHA-256."
    )
    golden_set = serializers.CharField(
        required=False, max_length=100, help_text="Or the golden set's name, with `golden_version`."
    )
    golden_version = serializers.IntegerField(required=False, min_value=1, max_value=MAX_VERSION_NUMBER)
    baseline = serializers.CharField(
        max_length=100, help_text="A version of the same model, the model's base model or the version's own."
    )
    judge = serializers.CharField(max_length=200, help_text='"human", or the judging model\'s name.')
    suite = serializers.CharField(required=False, max_length=100, help_text='The evaluation suite (default "sbs").')
    ran_at = serializers.DateTimeField(required=False, help_text="When the comparison ran (default: now).")
    reason = serializers.CharField(required=False, allow_blank=True, max_length=2000)

    def validate(self, data):
        by_sha = "golden_set_sha256" in data
        by_name = "golden_set" in data or "golden_version" in data
        if by_sha == by_name:
            raise serializers.ValidationError(
                {"golden_set_sha256": ["Name the golden set version: its SHA-256, or golden_set with golden_version."]}
            )
        if by_name and not ("golden_set" in data and "golden_version" in data):
            missing = "golden_version" if "golden_set" in data else "golden_set"
            raise serializers.ValidationError({missing: ["Required with the other."]})
        return data


class SbsRunInputSerializer(_RunFields):
    verdicts = serializers.ListField(child=VerdictField(), allow_empty=False, help_text="At least one verdict.")


class SbsRunUploadSerializer(_RunFields):
    verdicts = serializers.FileField(
        help_text="JSONL: one verdict object per line (at most SBS_MAX_UPLOAD_BYTES, default 32 MiB)."
    )


class PageQuerySerializer(StrictInputSerializer):
    cursor = serializers.CharField(required=False, max_length=1000)
    page_size = serializers.IntegerField(required=False, min_value=1, max_value=200)


class SbsItemQuerySerializer(StrictInputSerializer):
    outcome = serializers.ChoiceField(choices=Outcome.choices, required=False)
    intent = serializers.CharField(required=False, max_length=64, help_text="Only the items tagged with it.")
    cursor = serializers.CharField(required=False, max_length=1000)
    page_size = serializers.IntegerField(required=False, min_value=1, max_value=500)


class SbsCompareQuerySerializer(StrictInputSerializer):
    direction = serializers.ChoiceField(choices=selectors.DIRECTIONS, required=False)
    limit = serializers.IntegerField(
        required=False, min_value=1, max_value=selectors.FLIPS_SHOWN, help_text="Flipped items shown (default 1000)."
    )

    def get_fields(self):
        fields = super().get_fields()
        # `with` is a Python keyword, so the field is added here rather than declared.
        fields["with"] = serializers.IntegerField(
            required=False,
            min_value=1,
            max_value=selectors.MAX_ID,
            help_text="The other run's id (default: the model's latest earlier run on the same golden set version).",
        )
        return fields


class GoldenRefSerializer(serializers.Serializer):
    name = serializers.CharField(source="golden_set.name")
    version = serializers.IntegerField(source="golden_version")
    sha256 = serializers.CharField()
    url = serializers.SerializerMethodField()

    def get_url(self, obj) -> str:
        kwargs = {"name": obj.golden_set.name, "number": obj.golden_version}
        return reverse("golden-version-detail", kwargs=kwargs, request=self.context.get("request"))


def _run_kwargs(run) -> dict:
    return {"name": run.version.model.name, "version": run.version.version, "run_id": run.pk}


class SbsRunSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    model = serializers.CharField(source="version.model.name")
    version = serializers.CharField(source="version.version")
    golden_set = GoldenRefSerializer(source="golden")
    suite = serializers.CharField()
    baseline = serializers.CharField(help_text="As given: a version label or a base model.")
    baseline_version = serializers.CharField(
        source="baseline_version.version", allow_null=True, help_text="The version it names, when it is one."
    )
    judge = serializers.CharField()
    comparisons = serializers.IntegerField(help_text="Items rated (n).")
    verdict_count = serializers.IntegerField()
    win_rate = serializers.FloatField(help_text="(wins + ties / 2) / n over items.")
    win_rate_lower = serializers.FloatField(help_text="Wilson 95% interval, lower bound.")
    win_rate_upper = serializers.FloatField(help_text="Wilson 95% interval, upper bound.")
    evaluation = serializers.IntegerField(source="evaluation_id", allow_null=True, help_text="The evaluation it made.")
    created_by = serializers.CharField(source="created_by.username")
    ran_at = serializers.DateTimeField()
    created_at = serializers.DateTimeField()
    url = serializers.SerializerMethodField()

    def get_url(self, obj) -> str:
        return reverse("sbs-run-detail", kwargs=_run_kwargs(obj), request=self.context.get("request"))


class SbsRunLinksSerializer(serializers.Serializer):
    items = serializers.CharField()
    losses = serializers.CharField()
    compare = serializers.CharField(help_text="Append the other run's id.")
    evaluations = serializers.CharField()
    version = serializers.CharField()
    golden_version = serializers.CharField()


class SbsRunDetailSerializer(SbsRunSerializer):
    figures = serializers.SerializerMethodField(
        help_text="Computed from the verdicts (docs/evaluation.md): overall and per-intent n, wins, ties, losses, "
        "win_rate, lower, upper; coverage; raters; human share; judge-human and rater agreement (kappa)."
    )
    links = serializers.SerializerMethodField()

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_figures(self, obj) -> dict:
        return obj.figures

    @extend_schema_field(SbsRunLinksSerializer)
    def get_links(self, obj) -> dict:
        request = self.context.get("request")
        version = {"name": obj.version.model.name, "version": obj.version.version}
        golden = {"name": obj.golden.golden_set.name, "number": obj.golden.golden_version}
        items = reverse("sbs-run-items", kwargs=_run_kwargs(obj), request=request)
        return {
            "items": items,
            "losses": f"{items}?outcome=loss",
            "compare": reverse("sbs-run-compare", kwargs=_run_kwargs(obj), request=request) + "?with=",
            "evaluations": reverse("evaluation-list", kwargs=version, request=request),
            "version": reverse("version-detail", kwargs=version, request=request),
            "golden_version": reverse("golden-version-detail", kwargs=golden, request=request),
        }


class VerdictOutputSerializer(serializers.Serializer):
    judge = serializers.CharField()
    rater = serializers.CharField()
    outcome = serializers.ChoiceField(choices=Outcome.choices)
    comment = serializers.CharField()


class SbsRunItemSerializer(serializers.Serializer):
    """An item's result in a run; its prompt and reference only when GOLDEN_KEEP_TEXT kept them.

    The schema of the rows sbs.selectors.sbs_item_entries builds (the view returns them as they are).
    """

    item = serializers.CharField(help_text="The golden item's id.")
    position = serializers.IntegerField(help_text="Its order in the golden set file.")
    intents = serializers.ListField(child=serializers.CharField())
    outcome = serializers.ChoiceField(choices=Outcome.choices, help_text="From the mean of its verdicts' scores.")
    score = serializers.FloatField(help_text="Mean of its verdicts: win 1, tie 0.5, loss 0.")
    human_rated = serializers.BooleanField()
    verdicts = VerdictOutputSerializer(many=True)
    text_kept = serializers.BooleanField()
    messages = MessageSerializer(many=True, allow_null=True)
    reference = serializers.CharField(allow_null=True)


class FlipSerializer(serializers.Serializer):
    item = serializers.CharField()
    intents = serializers.ListField(child=serializers.CharField())
    outcome = serializers.ChoiceField(choices=Outcome.choices, help_text="In this run.")
    other_outcome = serializers.ChoiceField(choices=Outcome.choices, help_text="In the run named by `with`.")
    direction = serializers.ChoiceField(choices=selectors.DIRECTIONS)


class SbsCompareSerializer(serializers.Serializer):
    run = SbsRunSerializer()
    other = SbsRunSerializer(help_text="The run named by `with`.")
    same_baseline = serializers.BooleanField(help_text="Both compared against the same baseline.")
    items_compared = serializers.IntegerField(help_text="Items both runs rated.")
    only_in_run = serializers.IntegerField()
    only_in_other = serializers.IntegerField()
    transitions = serializers.DictField(
        child=serializers.DictField(child=serializers.IntegerField()),
        help_text="The other run's outcome -> this run's outcome -> items.",
    )
    counts = serializers.DictField(child=serializers.IntegerField(), help_text="improved, regressed, unchanged.")
    flips = FlipSerializer(many=True, help_text="Items whose outcome changed, in golden set order.")
    flips_total = serializers.IntegerField(help_text="Flips of the direction asked for, shown or not.")
    truncated = serializers.BooleanField(help_text="More flips than shown (`limit`).")
