"""A real Chromium, driven by Selenium, on pytest-django's live server: people's flows as people see them.

Debian's `chromium` and `chromium-driver` at fixed paths, so Selenium Manager never downloads a browser or a
driver. The window is 1280 px wide, the narrowest screen compliance staff work on; every test saves full-page
screenshots under var/screenshots/ for a person to look at.
"""

from __future__ import annotations

import base64
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
WIDTH = 1280
HEIGHT = 900
PASSWORD = "pw-for-tests"  # tests.conftest.make_user's
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
WAIT_SECONDS = 10  # a page of the live server in a loaded CI machine; never an assertion on speed


@pytest.fixture(scope="session")
def downloads(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("downloads")


@pytest.fixture(scope="session")
def chromium(downloads, live_server) -> Iterator[webdriver.Chrome]:
    """One browser for the session; each test starts logged out (see `browser`).

    It needs the live server only to close before it: Chromium keeps connections to it open, and each one's request
    thread closes the in-memory database's connection when it ends, which the server shares with its threads only
    while it runs. So the browser quits first and its connections' threads are waited for (a join, not a sleep).
    """
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not shutil.which(path)]
    if missing:
        pytest.fail(
            f"Browser tests need Debian's chromium and chromium-driver ({', '.join(missing)} missing): "
            "apt-get install -y chromium chromium-driver, or run `make test`, which leaves them out without them."
        )
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--hide-scrollbars",  # the page is laid out on the whole 1280 px, as screenshots show it
        f"--window-size={WIDTH},{HEIGHT}",
    ):
        options.add_argument(argument)
    options.add_experimental_option(
        "prefs",
        {
            "download.default_directory": str(downloads),
            "download.prompt_for_download": False,
            "plugins.always_open_pdf_externally": True,  # a PDF is saved, as an executive's browser would
        },
    )
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.implicitly_wait(0)
    yield driver
    driver.quit()
    for thread in threading.enumerate():
        if thread.name.endswith("(process_request_thread)"):
            thread.join(timeout=WAIT_SECONDS)


class Browser:
    """What a person does and checks in a page: open, log in, click, read, and take a screenshot."""

    def __init__(self, driver: webdriver.Chrome, base_url: str, downloads: Path, test_name: str):
        self.driver = driver
        self.base_url = base_url
        self.downloads = downloads
        self.test_name = test_name
        self._shots = 0

    # --- moving around ---

    def open(self, path: str) -> None:
        self.driver.get(self.base_url + path)

    @property
    def path(self) -> str:
        return self.driver.current_url.removeprefix(self.base_url)

    def log_in(self, user, next_path: str = "/admin/") -> None:
        """Through the admin's login form, as a person does."""
        self.open(f"/admin/login/?next={next_path}")
        self.type("username", user.username)
        self.type("password", PASSWORD)
        self.find("form input[type=submit], form button[type=submit]").click()
        self.wait_until(lambda: "/admin/login/" not in self.driver.current_url or self.all(".errornote"))

    def type(self, name: str, text: str, *, clear: bool = True) -> None:
        field = self.driver.find_element(By.NAME, name)
        if clear:
            field.clear()
        field.send_keys(text)

    def value(self, name: str) -> str:
        return self.driver.find_element(By.NAME, name).get_attribute("value") or ""

    def select(self, name: str, value: str) -> None:
        self.find(f"select[name='{name}'] option[value='{value}']").click()

    def list_action(self, action: str, *objects) -> None:
        """Tick `objects` in a change list, choose the action and press Go, as a person does."""
        for obj in objects:
            self.find(f"input.action-select[value='{obj.pk}']").click()
        self.select("action", action)
        self.submit("button[name=index]")

    def submit(self, selector: str = "input[type=submit], button[type=submit]") -> None:
        """Press a button and wait for the next page."""
        old = self.find("html")
        self.find(selector).click()
        self.wait_until(lambda: _stale(old))

    def click_link(self, text: str) -> None:
        old = self.find("html")
        self.driver.find_element(By.LINK_TEXT, text).click()
        self.wait_until(lambda: _stale(old))

    def follow(self, element: WebElement) -> None:
        old = self.find("html")
        element.click()
        self.wait_until(lambda: _stale(old))

    def wait_until(self, condition):
        return WebDriverWait(self.driver, WAIT_SECONDS).until(lambda _driver: condition())

    # --- reading ---

    def find(self, selector: str) -> WebElement:
        return self.driver.find_element(By.CSS_SELECTOR, selector)

    def all(self, selector: str) -> list[WebElement]:
        return self.driver.find_elements(By.CSS_SELECTOR, selector)

    @property
    def text(self) -> str:
        return self.find("body").text

    def messages(self, level: str = "") -> list[str]:
        """The admin's messages at the top of the page (level: success, error, warning, info, or all)."""
        return [m.text for m in self.all(f"ul.messagelist li{'.' + level if level else ''}")]

    def column_headers(self) -> dict[str, WebElement]:
        """A change list's column headers by their text, in lower case (the admin's CSS may capitalise them)."""
        headers = {}
        for th in self.all("#result_list thead th"):
            label = th.find_elements(By.CSS_SELECTOR, "div.text")  # beside it, the sort priority's digit
            text = (label[0] if label else th).text.strip().lower()
            if text:
                headers[text] = th
        return headers

    def rows(self, selector: str = "#result_list tbody tr") -> list[str]:
        return [row.text for row in self.all(selector)]

    def assert_within_width(self, element: WebElement, what: str) -> None:
        """The element is on screen at 1280 px as a person sees it: not past the window's right edge, not cut off by
        a box that scrolls sideways (the admin's list scrolls inside its own box), not covered (by the filters)."""
        assert element.is_displayed(), f"{what} is hidden"
        hidden = self.driver.execute_script(_HIDDEN_BECAUSE, element, WIDTH)
        assert not hidden, f"{what} is not visible at {WIDTH} px: {hidden}"

    def assert_in_view(self, element: WebElement, what: str) -> None:
        """The element is inside the window as it now stands (no scrolling needed to see it)."""
        top = element.rect["y"] - self.driver.execute_script("return window.scrollY")
        height = self.driver.execute_script("return window.innerHeight")
        assert 0 <= top < height, f"{what} is {top:.0f} px from the top of a {height} px window"

    # --- evidence for a person ---

    def screenshot(self, label: str) -> Path:
        """The whole page at 1280 px, under var/screenshots/<test>-<n>-<label>.png."""
        self._shots += 1
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        target = SCREENSHOTS / f"{self.test_name}-{self._shots:02d}-{label}.png"
        # The window cannot grow past the headless screen; the DevTools protocol lays out and shoots the whole page.
        height = self.driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]["height"]
        self.driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": WIDTH, "height": min(max(int(height), HEIGHT), 8000), "deviceScaleFactor": 1, "mobile": False},
        )
        try:
            png = self.driver.execute_cdp_cmd(
                "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}
            )
            target.write_bytes(base64.b64decode(png["data"]))
        finally:
            self.driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
        return target

    def downloaded(self, name: str) -> bytes:
        """The bytes of a finished download called `name`."""
        target = self.downloads / name
        self.wait_until(lambda: target.exists() and not (self.downloads / f"{name}.crdownload").exists())
        return target.read_bytes()


# Why an element is not fully visible without scrolling sideways, or "" if it is.
_HIDDEN_BECAUSE = """
const [element, width] = arguments;
window.scrollTo(0, Math.max(0, element.getBoundingClientRect().top + window.scrollY - 100));
const box = element.getBoundingClientRect();
if (box.left < 0 || box.right > width) {
  return `it spans x=${Math.round(box.left)} to ${Math.round(box.right)}`;
}
for (let parent = element.parentElement; parent; parent = parent.parentElement) {
  const style = getComputedStyle(parent);
  if (style.overflowX !== "visible") {
    const clip = parent.getBoundingClientRect();
    const right = clip.left + parent.clientLeft + parent.clientWidth;
    if (box.right > right + 0.5 || box.left < clip.left - 0.5) {
      return `it ends at x=${Math.round(box.right)} in a box that shows up to x=${Math.round(right)} and scrolls`;
    }
  }
}
const x = (box.left + box.right) / 2, y = (box.top + box.bottom) / 2;
const top = document.elementFromPoint(x, y);
if (top && !element.contains(top) && !top.contains(element)) {
  const name = top.tagName.toLowerCase() + (top.id ? "#" + top.id : "");
  return `it lies under ${name} at (${Math.round(x)}, ${Math.round(y)})`;
}
return "";
"""


def _stale(element: WebElement) -> bool:
    try:
        element.is_enabled()
    except WebDriverException:
        return True
    return False


@pytest.fixture
def browser(chromium, live_server, django_db_serialized_rollback, downloads, request) -> Iterator[Browser]:
    """A logged-out browser at 1280 px on the live server. The database is restored after each test (serialized
    rollback), so the rows migrations seed (roles, prices, schedules) are there for the tests that follow."""
    chromium.delete_all_cookies()
    chromium.set_window_size(WIDTH, HEIGHT)
    for old in downloads.iterdir():
        old.unlink()
    name = request.node.name.removeprefix("test_it_")[:80]
    yield Browser(chromium, live_server.url, downloads, name)
    chromium.get("about:blank")


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.browser)
