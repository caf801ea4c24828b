"""The three roles, as Django groups created by a migration."""

from __future__ import annotations

from django.db import models


class Role(models.TextChoices):
    ENGINEER = "Engineers", "Engineers"
    COMPLIANCE = "Compliance", "Compliance"
    EXECUTIVE = "Executives", "Executives"


READERS = frozenset({Role.ENGINEER, Role.COMPLIANCE, Role.EXECUTIVE})
# Who reads the technical records (datasets, runs, versions, the catalogue) in the admin. Executives
# read the API like everyone, but in the admin they see the report archive only (ROLE_PERMISSIONS).
ADMIN_READERS = frozenset({Role.ENGINEER, Role.COMPLIANCE})

# Not a role but a kind of account: a pipeline, not a person. Members keep whatever role
# they act in (a CI account is an engineer), get tokens only from an operator at the shell,
# and never request or decide a promotion (a decision needs a person).
SERVICE_ACCOUNTS = "Service accounts"


def roles_of(user) -> frozenset[str]:
    """The role names of a user, read once per user object."""
    if user is None or not user.is_authenticated or not user.is_active:
        return frozenset()
    cached = getattr(user, "_fineprint_roles", None)
    if cached is None and user.is_superuser:
        cached = frozenset(Role.values)  # the administrator holds every role
    if cached is None:
        cached = frozenset(user.groups.values_list("name", flat=True))
        user._fineprint_roles = cached
    return cached


def has_role(user, *roles: str) -> bool:
    return bool(roles_of(user) & set(roles))


def is_service_account(user) -> bool:
    from django.conf import settings

    # roles_of reads every group name once per user object, this one included.
    return user.username == settings.FINEPRINT_SERVICE_USERNAME or SERVICE_ACCOUNTS in roles_of(user)


RISK_RECORDS = (
    "risk",
    "treatmentaction",
    "acceptance",
    "control",
    "documentevidence",
    "metriccheck",
    "metriccheckresult",
    "incident",
    "incidentexample",
)

DATASET_RECORDS = ("dataset", "datasetcheck", "pricerow", "checkpolicy", "datasetoverride", "goldenset", "goldenitem")
# Side-by-side runs are recorded over the API (engineers, compliance) and read by everyone; nobody edits one.
SBS_RECORDS = {"sbs": {"sbsrun": ["view"], "sbsverdict": ["view"], "sbsrunitem": ["view"]}}

# Everyone manages their own tokens in the admin (if they are staff); the admin shows
# them only their own (core.admin.ApiTokenAdmin).
OWN_TOKENS = {"apitoken": ["view", "add", "change"]}

# Model permissions per role, for the admin. Permissions only exist after
# migrate, so they are attached on post_migrate (see core.apps), idempotently.
ROLE_PERMISSIONS = {
    Role.COMPLIANCE: {
        # Any token can be listed and revoked (change); the admin issues tokens to oneself only.
        "core": {
            "apitoken": ["view", "add", "change"],
            "idempotencyrecord": [],
            "securityevent": ["view"],
            # The audit chain: checkpoints made on demand (add), the verifier's runs, auditor exports.
            "auditcheckpoint": ["view", "add"],
            "auditverification": ["view"],
            "auditexport": ["view", "add"],
        },
        "registry": {
            "registeredmodel": ["view", "add", "change"],
            "modelversion": ["view", "change"],
            "evaluationresult": ["view"],
            "checkpoint": ["view"],
            "gatepolicy": ["view", "add"],
            "promotion": ["view"],
            "deployment": ["view"],
        },
        "providers": {"webhookreceipt": ["view"]},
        # Entries come from the provider; compliance corrects a date or a replacement, with a reason.
        "lifecycle": {"providermodel": ["view", "change"], "cataloguesync": ["view"]},
        # Compliance sets the price table and the check policy (new versions only) and overrides
        # a dataset's blocking findings, each with a reason; it uploads datasets like engineers.
        "datasets": {
            "dataset": ["view", "add"],
            "datasetcheck": ["view"],
            "pricerow": ["view", "add", "change"],
            "checkpolicy": ["view", "add"],
            "datasetoverride": ["view", "add"],
            # A golden set's versions are uploaded (add); its description is edited with a reason.
            "goldenset": ["view", "add", "change"],
            "goldenitem": ["view"],
        },
        **SBS_RECORDS,
        "risks": {
            "runwayrisk": ["view"],
            "runwaynotice": ["view"],
            "risk": ["view", "add", "change"],
            "treatmentaction": ["view", "add", "change"],
            "acceptance": ["view"],
            "control": ["view", "add", "change"],
            "documentevidence": ["view", "add"],
            "metriccheck": ["view", "add"],
            "metriccheckresult": ["view"],
            "incident": ["view", "add", "change"],
            "incidentexample": ["view", "add"],
        },
        "reports": {"report": ["view"], "reportrevision": ["view"], "delivery": ["view"]},
        # The beat schedule, e.g. when the monthly report runs.
        "django_celery_beat": {
            "periodictask": ["view", "change"],
            "crontabschedule": ["view", "add", "change"],
            "intervalschedule": ["view"],
        },
    },
    # Executives read the report archive in the admin (the list, a revision with its SHA-256,
    # the PDF) and nothing else: risks, models and datasets reach them through the report.
    Role.EXECUTIVE: {
        "reports": {"report": ["view"], "reportrevision": ["view"]},
    },
    Role.ENGINEER: {
        "core": OWN_TOKENS,
        "registry": {
            "registeredmodel": ["view"],
            "modelversion": ["view"],
            "evaluationresult": ["view"],
            "checkpoint": ["view"],
        },
        "lifecycle": {"providermodel": ["view"]},
        # Engineers upload datasets (API and admin) and read every record of them.
        "datasets": {
            **{name: ["view"] for name in DATASET_RECORDS},
            "dataset": ["view", "add"],
            "goldenset": ["view", "add", "change"],
        },
        **SBS_RECORDS,
        "risks": {name: ["view"] for name in RISK_RECORDS},
    },
}


def roles_sync(**kwargs) -> None:
    from django.contrib.auth.models import Group, Permission

    Group.objects.get_or_create(name=SERVICE_ACCOUNTS)
    for role, apps in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        wanted = [
            (app, f"{action}_{model}")
            for app, models_ in apps.items()
            for model, actions in models_.items()
            for action in actions
        ]
        perms = [
            p
            for p in Permission.objects.filter(content_type__app_label__in=apps.keys()).select_related("content_type")
            if (p.content_type.app_label, p.codename) in wanted
        ]
        group.permissions.set(perms)
