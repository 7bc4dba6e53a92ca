"""A real headless Chromium on the sandbox's approval page: read the context, approve with a reason, see it recorded.

Debian's chromium and chromium-driver (`make setup` installs them as root); without them these
tests skip with the same sentence `make setup` prints. Screenshots go to .artifacts/approval-page/
(gitignored; CI keeps .artifacts/), and each path is printed.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver.remote.webdriver import WebDriver

from .conftest import ALICE, Mailed, World

ROOT = Path(__file__).resolve().parents[3]
ARTIFACTS = ROOT / ".artifacts" / "approval-page"
MISSING = (
    "browser tests will skip: chromium and chromium-driver are missing; "
    "run 'sudo apt-get install -y chromium chromium-driver'"
)
PHONE = (390, 844)

pytestmark = pytest.mark.skipif(not (shutil.which("chromium") and shutil.which("chromedriver")), reason=MISSING)


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(shutil.which("chromium"))
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1280,900",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=str(shutil.which("chromedriver"))))
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def _screenshot(driver: WebDriver, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    driver.save_screenshot(str(path))
    print(f"screenshot: {path}")


def _text_once(driver: WebDriver, expected: str) -> str:
    """The page's text once it says `expected` (a click's POST and its 303 take a moment to load)."""
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    def body(d: WebDriver) -> str | bool:
        text = str(d.find_element(By.TAG_NAME, "body").text)
        return text if expected in text else False

    ignored = (NoSuchElementException, StaleElementReferenceException)
    return str(WebDriverWait(driver, 30, ignored_exceptions=ignored).until(body))


def _policy_violations(driver: WebDriver) -> list[str]:
    """What the console said about the page breaking its own Content-Security-Policy (a wrong style hash, say)."""
    # Chromium's WebDriver reads the console; the generic WebDriver type does not declare it.
    entries = driver.get_log("browser")  # type: ignore[attr-defined]
    return [str(e["message"]) for e in entries if "Content Security Policy" in str(e["message"])]


def test_an_approver_opens_the_link_from_their_email_approves_with_a_reason_and_the_pipeline_moves_on(
    mailed: Mailed, browser: WebDriver
) -> None:
    from selenium.webdriver.common.by import By

    driver = browser
    ref = mailed.ref
    url = mailed.link(ALICE)

    driver.get(url)
    text = driver.find_element(By.TAG_NAME, "body").text
    for expected in (
        "Approve \u201cApprove\u201d in payments (Approval)?",
        ref.execution_id,
        "Partial refunds",  # the source revision's commit message
        "Build Succeeded",  # the execution's build
    ):
        assert expected in text, expected
    assert "Check the refund dashboards first" in text and "bob@example.com: not answered" in text
    assert _policy_violations(driver) == []
    _screenshot(driver, "1-waiting")

    driver.find_element(By.ID, "reason").send_keys("Refund dashboards are green")
    driver.find_element(By.CSS_SELECTOR, "button[value=approve]").click()
    decided = _text_once(driver, "Approved by")
    assert f"Approved by {ALICE} at " in decided and "Reason: Refund dashboards are green" in decided
    # The POST answered 303 to the link itself, which the browser followed.
    assert driver.current_url == url
    _screenshot(driver, "2-approved")

    latest = mailed.state()
    assert latest["status"] == "Succeeded"
    assert latest["summary"] == f"Approved by {ALICE} via codereflex: Refund dashboards are green"

    driver.get(url)
    again = driver.find_element(By.TAG_NAME, "body").text
    assert f"Approved by {ALICE} at " in again
    assert driver.find_elements(By.TAG_NAME, "form") == []


def test_on_a_phone_sized_screen_the_page_fits_and_its_buttons_are_reachable(world: World, browser: WebDriver) -> None:
    from selenium.webdriver.common.by import By

    driver = browser
    ref = world.waiting()
    world.open(ref)
    driver.set_window_size(*PHONE)
    try:
        driver.get(world.link(ref, ALICE))
        viewport = driver.execute_script("return document.documentElement.clientWidth")
        content = driver.execute_script("return document.documentElement.scrollWidth")
        assert content <= viewport, "the page scrolls sideways on a phone"
        for button in driver.find_elements(By.CSS_SELECTOR, "button"):
            assert button.is_displayed() and button.size["height"] >= 40  # a thumb's target
            assert button.location["x"] + button.size["width"] <= viewport
        _screenshot(driver, "3-phone")
    finally:
        driver.set_window_size(1280, 900)


def test_an_approver_approves_a_deployment_hooks_question_and_the_hook_finds_it_decided(
    world: World, browser: WebDriver, codepipeline_calls: list[str]
) -> None:
    from selenium.webdriver.common.by import By

    driver = browser
    request = world.deployment()
    ref = request.ref
    url = world.link(ref, ALICE, request.link_expires_at)

    driver.get(url)
    text = driver.find_element(By.TAG_NAME, "body").text
    for expected in (
        f"Approve deployment {ref.execution_id} of payments-api (payments-prod) at BeforeAllowTraffic?",
        "Checks of this hook",
        "error-rate inconclusive: only 3 of 10 datapoints in the window",
        "Why a person is asked",
    ):
        assert expected in text, expected
    assert _policy_violations(driver) == []
    _screenshot(driver, "4-deployment-waiting")

    driver.find_element(By.ID, "reason").send_keys("Error rate is flat on the dashboard")
    driver.find_element(By.CSS_SELECTOR, "button[value=approve]").click()
    decided = _text_once(driver, "Approved by")
    assert "Reason: Error rate is flat on the dashboard." in decided
    assert "The hook reports it to CodeDeploy: the deployment goes on." in decided
    assert driver.current_url == url
    _screenshot(driver, "5-deployment-approved")

    held = world.store.get(ref)  # what the hook polls
    assert held is not None and held.outcome is not None and held.outcome.reported
    assert held.outcome.by == (ALICE,)
    assert codepipeline_calls == []
