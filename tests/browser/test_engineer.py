"""An engineer works over the API: the site's front page points there, and the admin is not for them."""

from __future__ import annotations


def test_it_points_an_engineer_from_the_front_page_to_the_api_docs(browser, engineer):
    browser.open("/")
    assert "Fineprint" in browser.text
    assert "Page not found" not in browser.text
    browser.screenshot("landing")
    browser.follow(browser.find("a[href='/api/docs/']"))
    browser.wait_until(lambda: browser.all(".swagger-ui .info .title"))
    assert "Fineprint" in browser.find(".swagger-ui .info .title").text
    browser.screenshot("api-docs")

    browser.log_in(engineer)
    assert "/admin/login/" in browser.path
    [error] = browser.all(".errornote")
    assert "staff" in error.text or "not" in error.text.lower()
