"""Compliance opens the risk heat map and follows a cell to the risks scored there."""

from __future__ import annotations

from risks import services
from tests.risks.conftest import risk_payload


def test_it_follows_a_heat_map_cell_to_the_risks_scored_there(browser, compliance):
    there = services.risk_create(
        actor=compliance,
        owner=compliance,
        **risk_payload(
            title="Leaks card numbers",
            inherent_likelihood=5,
            inherent_impact=5,
            residual_likelihood=4,
            residual_impact=5,
        ),
    )
    elsewhere = services.risk_create(
        actor=compliance,
        owner=compliance,
        **risk_payload(title="Slow answers at peak", residual_likelihood=2, residual_impact=2),
    )

    browser.log_in(compliance)
    browser.open("/admin/risks/risk/")
    browser.follow(browser.find("#content a[href$='/admin/risks/risk/heatmap/']"))
    assert browser.find("h1").text == "Risk heat map"
    assert "likelihood" in browser.text.lower()
    browser.screenshot("heat-map")

    # The residual map's cell for likelihood 4, impact 5: it counts one risk and links to it.
    [cell] = browser.all("a[href*='residual_likelihood=4'][href*='residual_impact=5']")
    assert cell.text == "1"
    browser.follow(cell)

    assert browser.path.startswith("/admin/risks/risk/?")
    listed = browser.rows()
    assert len(listed) == 1
    assert there.reference in listed[0]
    assert elsewhere.reference not in browser.text
    browser.assert_within_width(browser.column_headers()["title"], "The risk list's Title column")
    browser.screenshot("cell-risks")
