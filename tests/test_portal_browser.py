"""The reference portal (examples/portal) in headless Chromium, run as a real server.

Every seed flow through the pages a user sees: register in three steps,
activate from the local mailbox, log in, five wrong passwords lock the
account, forgot password, reset, log in again; a Group's provider list;
"provider does not exist" with both help lines; the live password checklist;
forgotten user name; the Group's list paged and searched; the rate-limit message;
an authenticator app set up, then a login with password and code.
A screenshot of each page goes to ``artifacts/screenshots/``.

Needs Debian's ``chromium`` and ``chromium-driver``. Without them the test
skips, saying so; with ``PROVIDER_IDENTITY_REQUIRE_BROWSER`` set (``.ci/run``
sets it) it fails instead.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.test_smtp import free_port

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
PASSWORD, NEW_PASSWORD = "Blue-Heron-2031", "Quiet-Otter-2032"
HELP_LINES = ("1-855-202-1058", "1-833-230-2030")
CHECK_LIMIT = 8  # provider checks a minute from one address: above the flows' own, reachable

if CHROMIUM is None or DRIVER is None:
    reason = "the browser test needs Debian's chromium and chromium-driver (apt-get install)"
    if os.environ.get("PROVIDER_IDENTITY_REQUIRE_BROWSER"):
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason, allow_module_level=True)

webdriver = pytest.importorskip("selenium.webdriver")
pyotp = pytest.importorskip("pyotp")
from selenium.common.exceptions import (  # noqa: E402
    StaleElementReferenceException,
    WebDriverException,
)
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.remote.webelement import WebElement  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``python -m examples.portal`` on a free loopback port; its URL once it listens."""
    folder = tmp_path_factory.mktemp("portal")
    port = free_port()
    command = [sys.executable, "-m", "examples.portal", "--fresh", "--fast", "--port", str(port)]
    command += ["--database", str(folder / "portal.db"), "--mailbox", str(folder / "mailbox")]
    command += ["--page-size", "2", "--limit", f"check_provider={CHECK_LIMIT}"]
    server = subprocess.Popen(  # noqa: S603  # our own command, no shell
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert server.stderr is not None
    for line in server.stderr:  # Werkzeug says "Running on" once the socket listens
        if "Running on" in line:
            break
    else:
        pytest.fail(f"the portal did not start: {server.communicate()}")
    yield f"http://127.0.0.1:{port}"
    server.terminate()
    server.communicate(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    """Headless Chromium through the system's chromedriver."""
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    options.add_argument("--window-size=1000,1100")
    driver = webdriver.Chrome(options=options, service=Service(executable_path=str(DRIVER)))
    driver.implicitly_wait(0)
    yield driver
    driver.quit()


def replaced(page: WebElement) -> Callable[[webdriver.Chrome], bool]:
    """Like ``staleness_of``, also when Chromium reports the old node gone under another name."""

    def gone(_: webdriver.Chrome) -> bool:
        try:
            page.is_enabled()
        except StaleElementReferenceException:
            return True
        except WebDriverException as err:  # "Node with given id does not belong to the document"
            return "does not belong to the document" in str(err.msg)
        return False

    return gone


class Pages:
    """The steps a user takes, each ending with a screenshot of the page reached."""

    def __init__(self, driver: webdriver.Chrome, url: str) -> None:
        self.driver, self.url, self.shots = driver, url, 0
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def shot(self, name: str) -> None:
        self.shots += 1
        self.driver.save_screenshot(str(SCREENSHOTS / f"{self.shots:02d}-{name}.png"))

    def open(self, path: str) -> None:
        self.driver.get(self.url + path)

    def type(self, fields: dict[str, str]) -> None:
        for name, value in fields.items():
            element = self.driver.find_element(By.ID, name)
            element.clear()
            element.send_keys(value)

    def click(self, element_id: str) -> None:
        """Click; for a button or link, wait until the next page has replaced this one."""
        element = self.driver.find_element(By.ID, element_id)
        navigates = element.get_attribute("type") not in {"checkbox", "radio"}
        page = self.driver.find_element(By.TAG_NAME, "html")
        element.click()
        if navigates:
            WebDriverWait(self.driver, 20).until(replaced(page))

    def text(self, element_id: str) -> str:
        return str(self.driver.find_element(By.ID, element_id).text)

    def error_code(self) -> str:
        return str(self.driver.find_element(By.ID, "error").get_attribute("data-code"))

    def heading(self) -> str:
        return str(self.driver.find_element(By.TAG_NAME, "h1").text)

    def provider_ids(self) -> list[str]:
        rows = self.driver.find_elements(By.CSS_SELECTOR, "#providers td:first-child")
        return [str(row.text) for row in rows]

    def open_mail(self, subject: str, to: str) -> None:
        """Open the newest mail with ``subject`` to ``to`` in the mailbox."""

        def arrived(driver: webdriver.Chrome) -> object:
            driver.get(self.url + "/mailbox")
            rows = driver.find_elements(By.CSS_SELECTOR, "#mails tr")
            return next((row for row in rows if subject in row.text and to in row.text), None)

        row = WebDriverWait(self.driver, 20, poll_frequency=0.2).until(arrived)
        row.find_element(By.TAG_NAME, "a").click()
        self.shot(subject.lower().replace(" ", "-"))

    def follow_mail(self, subject: str, to: str) -> None:
        """Open the newest mail with ``subject`` to ``to`` in the mailbox and click its link."""
        self.open_mail(subject, to)
        page = self.driver.find_element(By.TAG_NAME, "html")
        self.driver.find_element(By.CSS_SELECTOR, "#mail pre a").click()
        WebDriverWait(self.driver, 20).until(replaced(page))

    def register(self, provider: dict[str, str], account: dict[str, str], kind: str) -> None:
        self.open("/register")
        self.click(f"type-{kind}")
        self.type(provider)
        self.click("next")
        assert self.heading() == "Provider Agreement"
        self.click("agreement_confirmed")
        self.click("next")
        assert self.heading() == "Create your user account"
        self.type(account)
        self.click("finish")
        assert self.heading() == "Registration complete"

    def login(self, username: str, password: str) -> None:
        self.open("/login")
        self.type({"username": username, "password": password})
        self.click("submit")


JANE = {"name": "Jane Q. Doe", "provider_id": "P1000001", "tax_id": "31-1234567"}
JANE |= {"zip_code": "45409"}
JANE_ACCOUNT = {"username": "jdoe", "password": PASSWORD, "email": "jane.doe@example.org"}
JANE_ACCOUNT |= {"security_answer": "Rex"}
GROUP = {"name": "Miami Valley Radiology Group", "provider_id": "G2000001"}
GROUP |= {"tax_id": "31-7654321", "zip_code": "45440"}
GROUP_ACCOUNT = {"username": "mvr-admin", "password": PASSWORD, "security_answer": "Rex"}
GROUP_ACCOUNT |= {"email": "office@mvradiology.example.org"}


def test_the_seed_flows_in_a_browser(portal: str, browser: webdriver.Chrome) -> None:
    """Register, activate, log in, lock out, reset, log in; the group list; the help lines."""
    pages = Pages(browser, portal)
    pages.open("/login")
    assert browser.find_element(By.ID, "register-here").value_of_css_property("color") in {
        "rgba(200, 16, 46, 1)",
        "rgb(200, 16, 46)",
    }
    pages.shot("login")
    pages.click("register-here")

    # Step 1 alone: required fields reported beside each field, the tip shown.
    pages.click("next")
    assert pages.error_code() == "invalid_input"
    for field in ("provider_type", "name", "tax_id", "zip_code", "provider_id"):
        assert pages.text(f"{field}-error"), field
    assert "Group Payee ID" in pages.text("tip")
    assert len(browser.find_elements(By.CSS_SELECTOR, "label .required, legend .required")) == 5
    pages.shot("register-required-fields")

    # An unknown provider: the seed's message with both help lines.
    pages.click("type-practitioner")
    pages.type({**JANE, "provider_id": "P9999999"})
    pages.click("next")
    assert pages.error_code() == "provider_not_found"
    assert "does not exist in Provider Portal" in pages.text("error")
    help_lines = pages.text("help-lines")
    assert all(number in help_lines for number in HELP_LINES)
    pages.shot("provider-does-not-exist")

    # The same in Spanish: the language switch keeps the choice for the session.
    pages.click("lang-es")
    pages.click("type-practitioner")
    pages.type({**JANE, "provider_id": "P9999999"})
    pages.click("next")
    assert "El proveedor no existe en Provider Portal" in pages.text("error")
    assert all(number in pages.text("help-lines") for number in HELP_LINES)
    pages.shot("provider-does-not-exist-es")
    pages.click("lang-en")

    # Three steps; the live checklist on step 3.
    pages.open("/register")
    pages.click("type-practitioner")
    pages.type(JANE)
    pages.click("next")
    pages.shot("provider-agreement")
    pages.click("next")
    assert pages.error_code() == "invalid_input"
    pages.click("agreement_confirmed")
    pages.click("next")
    pages.type({"password": "short"})
    checklist = {
        item.get_attribute("data-code"): item
        for item in browser.find_elements(By.CSS_SELECTOR, "#password-checklist li")
    }
    assert "reused" not in checklist  # history applies to a change, not to registration
    assert checklist["too_short"].get_attribute("class") == "unmet"
    assert checklist["missing_uppercase"].get_attribute("class") == "unmet"
    assert checklist["missing_lowercase"].get_attribute("class") == "met"
    pages.shot("password-checklist-unmet")
    pages.type({"password": PASSWORD})
    assert {checklist[code].get_attribute("class") for code in ("too_short", "missing_digit")} == {
        "met"
    }
    pages.shot("password-checklist-met")
    pages.type({key: value for key, value in JANE_ACCOUNT.items() if key != "password"})
    pages.click("finish")
    assert pages.heading() == "Registration complete"
    pages.shot("registration-complete")

    # Activate from the mailbox: GET shows the button, POST spends the link.
    pages.follow_mail("Activate Your Provider Portal Account", "jane.doe@example.org")
    assert pages.heading() == "Activate your account"
    pages.shot("activate")
    pages.click("activate")
    assert pages.heading() == "Email Verification"
    pages.shot("activated")
    browser.back()
    browser.refresh()
    assert browser.find_element(By.ID, "link-state").get_attribute("data-state") == "used"

    pages.login("jdoe", PASSWORD)
    assert pages.heading() == "Welcome, jdoe"
    assert "P1000001" in pages.text("providers")
    pages.shot("home")
    pages.click("logout")
    assert pages.heading() == "Provider Login"

    # Five wrong passwords lock the account; then even the right one is refused.
    for attempt in range(5):
        pages.login("jdoe", f"Wrong-Password-{attempt}")
    pages.login("jdoe", PASSWORD)
    assert pages.error_code() == "account_locked"
    assert "Forgot password?" in pages.text("error")
    pages.shot("locked")

    # Forgot password -> reset from the mailbox -> log in with the new password.
    pages.click("forgot-password")
    pages.type({"username": "jdoe"})
    pages.shot("forgot-password")
    pages.click("submit")
    assert pages.heading() == "Check your email"
    pages.follow_mail("CareSource Provider Portal Password", "jane.doe@example.org")
    assert pages.heading() == "Reset your password"
    assert "Must not be one of your last 5 passwords." in pages.text("password-checklist")
    pages.type({"password": NEW_PASSWORD, "password_again": NEW_PASSWORD + "x"})
    pages.click("submit")
    assert pages.text("password_again-error") == "The passwords do not match."
    pages.type({"password": NEW_PASSWORD, "password_again": NEW_PASSWORD})
    pages.shot("reset-password")
    pages.click("submit")
    assert pages.heading() == "Password changed"
    pages.login("jdoe", NEW_PASSWORD)
    assert pages.heading() == "Welcome, jdoe"
    pages.click("logout")

    # A Group sees every provider under its Tax ID.
    pages.register(GROUP, GROUP_ACCOUNT, "group")
    pages.follow_mail("Activate Your Provider Portal Account", "office@mvradiology.example.org")
    pages.click("activate")
    pages.login("mvr-admin", PASSWORD)
    assert pages.provider_ids() == ["G2000001", "P2000002"]
    pages.shot("group-providers")
    pages.click("next-page")
    assert pages.provider_ids() == ["P2000003"]
    assert not browser.find_elements(By.ID, "next-page")
    pages.shot("group-providers-next-page")
    pages.type({"search": "lopez"})
    pages.click("search-submit")
    assert pages.provider_ids() == ["P2000003"]
    pages.shot("group-providers-searched")
    pages.click("logout")

    # Forgotten user name: the name comes by mail, to the account's address.
    pages.open("/login")
    pages.click("forgot-username")
    pages.type({"email": "office@mvradiology.example.org"})
    pages.shot("forgot-username")
    pages.click("submit")
    assert pages.heading() == "Check your email"
    pages.open_mail("User Name", "office@mvradiology.example.org")
    assert "mvr-admin" in pages.text("mail")

    # Too many provider checks from one address: the wait is on the page (429, Retry-After).
    for attempt in range(CHECK_LIMIT + 1):
        pages.open("/register")
        pages.click("type-practitioner")
        pages.type({**JANE, "provider_id": f"P99990{attempt:02d}"})
        pages.click("next")
        if pages.error_code() == "too_many_attempts":
            break
    assert pages.error_code() == "too_many_attempts"
    assert "Too many attempts. Please wait" in pages.text("error")
    pages.shot("rate-limited")

    # An authenticator app: set up with its first code, then a login needs the next one.
    pages.login("jdoe", NEW_PASSWORD)
    pages.click("set-up-authenticator")
    assert browser.find_element(By.CSS_SELECTOR, "#qr svg")
    app = pyotp.TOTP(pages.text("totp-secret"))
    pages.shot("authenticator-set-up")
    pages.type({"code": app.now()})
    pages.click("confirm")
    assert pages.heading() == "Your authenticator app is on"
    assert len(browser.find_elements(By.CSS_SELECTOR, "#recovery-codes li")) == 10
    pages.shot("recovery-codes")
    pages.click("logout")
    pages.login("jdoe", NEW_PASSWORD)
    assert pages.heading() == "Enter your code"
    assert not browser.find_elements(By.ID, "logout")  # nobody is logged in yet
    pages.type({"code": app.at(time.time() + 30)})  # the next step: the first was spent
    pages.shot("login-code")
    pages.click("submit")
    assert pages.heading() == "Welcome, jdoe"
