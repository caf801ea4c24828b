"""Compliance finds a version in the list and reads its history: who, when and why."""

from __future__ import annotations

from registry import services


def test_it_finds_a_version_and_reads_why_it_changed(browser, compliance, engineer, registered_version):
    other = services.version_register(
        model=registered_version.model,
        actor=engineer,
        **{
            "version": "v-other",
            "training_file_sha256": "b" * 64,
            "validation_file_sha256": "c" * 64,
            "changelog": "Another version the search must leave out.",
        },
    )
    services.version_retire(version=registered_version, actor=compliance, reason="Superseded; kept for the audit")
    label = registered_version.version

    browser.log_in(compliance)
    browser.open("/admin/registry/modelversion/")
    headers = browser.column_headers()
    browser.assert_within_width(headers["status"], "The version list's Status column")
    browser.screenshot("version-list")

    browser.type("q", label)
    browser.submit("#changelist-search input[type=submit]")
    [row] = browser.rows()
    assert label in row
    assert other.version not in row
    browser.follow(browser.find(f"#result_list a[href*='/admin/registry/modelversion/{registered_version.pk}/']"))
    assert browser.path.startswith(f"/admin/registry/modelversion/{registered_version.pk}/change/")
    browser.screenshot("version-page")

    browser.follow(browser.find("a.historylink"))
    assert browser.path.startswith(f"/admin/registry/modelversion/{registered_version.pk}/history/")
    retired = [row for row in browser.rows("#change-history tbody tr, table tbody tr") if "Superseded" in row]
    assert retired, f"no history row gives the reason; the page reads:\n{browser.text}"
    assert "Superseded; kept for the audit" in retired[0]
    assert compliance.username in retired[0]
    assert "Deleted user" not in browser.text
    browser.screenshot("version-history")
