"""Golden sets in the admin: the list, a set's versions, the upload of a version, the description's history."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from core.roles import Role
from datasets.models import GoldenItem, GoldenSet
from tests.conftest import make_user
from tests.sbs.helpers import golden_jsonl, golden_version

V1 = [("b1", ["billing"]), ("b2", ["billing"]), ("r1", ["returns"])]
V2 = [*V1, ("s1", ["shipping"]), ("x1", ["billing", "shipping"])]


@pytest.fixture(autouse=True)
def _storage(settings, tmp_path):
    settings.DATASET_STORAGE = tmp_path / "datasets"


def admin_for(user) -> Client:
    user.is_staff = True
    user.save()
    client = Client()
    client.force_login(user)
    return client


def upload(client: Client, url: str, content: bytes, **fields):
    return client.post(url, {"file": SimpleUploadedFile("golden.jsonl", content), **fields})


def test_it_lists_each_golden_set_with_its_latest_version(compliance, engineer, django_assert_max_num_queries):
    golden_version(engineer, V1)
    golden_version(engineer, V2)
    golden_version(engineer, [("q1", ["refunds"])], name="refunds-golden")
    client = admin_for(compliance)
    with django_assert_max_num_queries(12):
        page = client.get(reverse("admin:datasets_goldenset_changelist"))
    assert page.status_code == 200
    text = page.content.decode()
    # support-golden: 2 versions; v2 holds 5 items in billing, returns, shipping.
    assert re.search(r"support-golden.*?2 \(latest v2\).*?>5<.*?3: billing, returns, shipping", text, re.S)
    assert re.search(r"refunds-golden.*?1 \(latest v1\).*?>1<.*?1: refunds", text, re.S)


def test_its_page_shows_every_version_with_its_items_per_intent(compliance, engineer):
    first = golden_version(engineer, V1)
    second = golden_version(engineer, V2)
    page = admin_for(compliance).get(reverse("admin:datasets_goldenset_change", args=[first.golden_set_id]))
    assert page.status_code == 200
    text = page.content.decode()
    versions = re.findall(r'<tr class="fp-version">(.*?)</tr>\s*(?=<tr class="fp-version">|</tbody>)', text, re.S)
    assert len(versions) == 2
    newest, oldest = versions
    assert "v2" in newest and second.sha256[:12] in newest
    # v2: billing b1 b2 x1 = 3, returns r1 = 1, shipping s1 x1 = 2.
    assert re.findall(r"<td>(\w+)</td><td[^>]*>(\d+)</td>", newest) == [
        ("billing", "3"),
        ("returns", "1"),
        ("shipping", "2"),
    ]
    assert re.findall(r"<td>(\w+)</td><td[^>]*>(\d+)</td>", oldest) == [("billing", "2"), ("returns", "1")]
    assert reverse("admin:datasets_dataset_change", args=[first.pk]) in oldest
    assert engineer.username in oldest


def test_compliance_uploads_a_version_and_reads_what_it_holds(compliance, engineer):
    first = golden_version(engineer, V1)
    client = admin_for(compliance)
    url = reverse("admin:datasets_goldenset_upload_version", args=[first.golden_set_id])
    response = upload(client, url, golden_jsonl(V2))
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:datasets_goldenset_change", args=[first.golden_set_id])
    page = client.get(response["Location"])
    assert "Version 2 of support-golden: 5 items in 3 intents." in page.content.decode()
    assert GoldenSet.objects.get().versions.count() == 2


def test_a_new_golden_set_starts_with_its_first_upload(compliance):
    client = admin_for(compliance)
    response = upload(
        client, reverse("admin:datasets_goldenset_upload"), golden_jsonl(V1), name="new-golden", description="Support"
    )
    assert response.status_code == 302
    golden_set = GoldenSet.objects.get(name="new-golden")
    assert golden_set.description == "Support"
    assert "Version 1 of new-golden: 3 items in 2 intents." in client.get(response["Location"]).content.decode()


def test_bad_lines_are_shown_beside_the_file_and_the_name_is_kept(compliance):
    content = golden_jsonl(V1) + b'{"id": "z9", "messages": [{"role": "user", "content": "hi"}]}\nnot json\n'
    response = upload(
        admin_for(compliance),
        reverse("admin:datasets_goldenset_upload"),
        content,
        name="typed-name",
        description="Kept",
    )
    assert response.status_code == 200
    text = response.content.decode()
    file_errors = re.search(r'<ul class="errorlist"[^>]*id="id_file_error">(.*?)</ul>', text, re.S)
    assert file_errors, text
    assert "line 4: item &#x27;z9&#x27; has no intents" in file_errors.group(1)
    assert "line 5: not a JSON object" in file_errors.group(1)
    assert 'value="typed-name"' in text
    assert re.search(r'<textarea[^>]*name="description"[^>]*>\s*Kept</textarea>', text)
    assert not GoldenSet.objects.exists()
    assert not GoldenItem.objects.exists()


def test_bytes_of_another_set_are_refused_beside_the_file(compliance, engineer):
    golden_version(engineer, V1, name="first-golden")
    response = upload(admin_for(compliance), reverse("admin:datasets_goldenset_upload"), golden_jsonl(V1), name="other")
    assert response.status_code == 200
    assert "already version 1 of golden set first-golden" in response.content.decode()
    assert list(GoldenSet.objects.values_list("name", flat=True)) == ["first-golden"]


@pytest.mark.parametrize("role", [Role.EXECUTIVE, None])
def test_executives_and_outsiders_cannot_upload(role, engineer):
    first = golden_version(engineer, V1)
    client = admin_for(make_user(f"staff-{role or 'nobody'}", role))
    for url in (
        reverse("admin:datasets_goldenset_upload"),
        reverse("admin:datasets_goldenset_upload_version", args=[first.golden_set_id]),
    ):
        assert client.get(url).status_code == 403
        assert upload(client, url, golden_jsonl(V2), name="support-golden").status_code == 403
    assert first.golden_set.versions.count() == 1


def test_executives_are_kept_to_the_report_archive(engineer):
    first = golden_version(engineer, V1)
    client = admin_for(make_user("exec", Role.EXECUTIVE))
    assert client.get(reverse("admin:datasets_goldenset_change", args=[first.golden_set_id])).status_code == 403
    assert client.get(reverse("admin:datasets_goldenset_changelist")).status_code == 403
    assert client.get(reverse("admin:datasets_goldenitem_changelist")).status_code == 403


def test_the_description_is_saved_with_the_reason_in_its_history(compliance, engineer):
    first = golden_version(engineer, V1)
    url = reverse("admin:datasets_goldenset_change", args=[first.golden_set_id])
    client = admin_for(compliance)
    refused = client.post(url, {"description": "Billing and returns questions"})
    assert refused.status_code == 200  # no reason: nothing saved
    assert GoldenSet.objects.get().description == ""
    response = client.post(url, {"description": "Billing and returns questions", "change_reason": "Say what it covers"})
    assert response.status_code == 302
    latest = GoldenSet.history.latest()
    assert (latest.description, latest.history_user, latest.history_change_reason) == (
        "Billing and returns questions",
        compliance,
        "Say what it covers",
    )


def test_golden_items_are_listed_but_never_added_changed_or_deleted(compliance, engineer):
    first = golden_version(engineer, V1)
    item = GoldenItem.objects.filter(dataset=first).first()
    client = admin_for(compliance)
    listing = client.get(reverse("admin:datasets_goldenitem_changelist") + f"?dataset={first.pk}")
    assert listing.status_code == 200
    assert "b1" in listing.content.decode()
    assert client.get(reverse("admin:datasets_goldenitem_add")).status_code == 403
    assert client.post(reverse("admin:datasets_goldenitem_change", args=[item.pk]), {"item_id": "x"}).status_code == 403
    assert client.post(reverse("admin:datasets_goldenitem_delete", args=[item.pk]), {"post": "yes"}).status_code == 403
    assert GoldenItem.objects.get(pk=item.pk).item_id == item.item_id
