"""The workshop view in a real browser: Playwright drives Debian's Chromium (headless) against
`cbsim viz` and `solara run cbsim/workshop/app.py` subprocesses on free ports, with no internet: the
browser may only talk to the local server, and the server's CDN points nowhere, so every
front-end asset must come from the offline cache that scripts/setup_browser.sh fills.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from cbsim.model.model import CommunityBudgetModel
from cbsim.workshop.server import missing_solara_assets

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]
SCREENSHOTS = REPO / "out" / "browser"
UNREACHABLE_CDN = "http://127.0.0.1:9/npm/"  # the discard port: nothing listens there
START_TIMEOUT_S = 120
UI_TIMEOUT_MS = 20_000

pytestmark = [
    pytest.mark.browser,
    pytest.mark.timeout(240),
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs /usr/bin/chromium: run scripts/setup_browser.sh .venv"
    ),
    pytest.mark.skipif(
        bool(missing_solara_assets()),
        reason="Solara's assets are not cached: run scripts/setup_browser.sh .venv",
    ),
]


# ------------------------------------------------------------------------------- servers
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(
    command: list[str],
    log: Path,
    env: dict[str, str] | None = None,
) -> tuple[subprocess.Popen, str]:
    """Start a server subprocess (own process group) and wait until its page answers."""
    port = command[command.index("--port") + 1]
    url = f"http://127.0.0.1:{port}/"
    full_env = {
        **os.environ,
        "SOLARA_ASSETS_CDN": UNREACHABLE_CDN,
        "SOLARA_TELEMETRY_MIXPANEL_ENABLE": "False",
        **(env or {}),
    }
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            cwd=REPO,
            env=full_env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"server exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return process, url
        except OSError:
            time.sleep(0.5)
    stop_server(process)
    pytest.fail(f"server did not answer within {START_TIMEOUT_S} s:\n{log.read_text()[-3000:]}")


def stop_server(process: subprocess.Popen) -> None:
    """Stop the server and its children (the process group it leads)."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture(scope="module")
def viz_url(tmp_path_factory) -> Iterator[str]:
    """`cbsim viz baseline_2011` on a free port."""
    log = tmp_path_factory.mktemp("viz") / "server.log"
    command = [sys.executable, "-m", "cbsim", "viz", "baseline_2011", "--port", str(free_port())]
    process, url = start_server(command, log)
    yield url
    stop_server(process)


# ------------------------------------------------------------------------------- browser
@pytest.fixture(scope="module")
def browser() -> Iterator:
    with playwright_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield chromium
        chromium.close()


class Tab:
    """One browser tab (its own context, so its own Solara session) that records problems:
    console errors, page errors, failed responses, and any request off this machine."""

    def __init__(self, browser, url: str) -> None:
        self.problems: list[str] = []
        self.context = browser.new_context(viewport={"width": 1600, "height": 1000})
        self.context.route("**/*", self._only_local)
        self.page = self.context.new_page()
        self.page.set_default_timeout(UI_TIMEOUT_MS)
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda exc: self.problems.append(f"page error: {exc}"))
        self.page.on(
            "requestfailed",
            lambda r: self.problems.append(f"request failed: {r.url} ({r.failure})"),
        )
        self.page.on(
            "response",
            lambda r: r.status >= 400 and self.problems.append(f"HTTP {r.status}: {r.url}"),
        )
        self.page.goto(url)
        try:
            expect(self.page.locator(".cbsim-month")).to_be_visible(timeout=60_000)
            # the panels sit in SolaraViz's draggable grid, whose script comes from the cache
            expect(self.page.locator("img.cbsim-figure")).to_have_count(2, timeout=30_000)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\nproblems so far: {self.problems}") from None

    def _only_local(self, route) -> None:
        url = route.request.url
        if url.startswith(("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:")):
            route.continue_()
        else:
            self.problems.append(f"request off this machine: {url}")
            route.abort()

    def _console(self, message) -> None:
        if message.type == "error":
            self.problems.append(f"console error: {message.text}")

    # --- reading and driving the page
    def text(self, selector: str) -> str:
        return self.page.locator(selector).inner_text().strip()

    def month(self) -> str:
        return self.text(".cbsim-month")

    def developing(self) -> int:
        return int(self.text(".cbsim-developing"))

    def incentive(self, path: str) -> str:
        return self.text(f'.cbsim-incentives tr[data-path="{path}"] td.value')

    def press(self, name: str) -> None:
        self.page.get_by_role("button", name=name, exact=True).click()

    def step(self) -> str:
        """Press Step and wait for the month label to move on; return the new month."""
        before = self.month()
        self.press("Step")
        expect(self.page.locator(".cbsim-month")).not_to_have_text(before)
        return self.month()

    def slider(self, label: str):
        return self.page.locator(".v-input", has_text=label).get_by_role("slider")

    def pick_scenario(self, name: str) -> None:
        self.page.locator(".v-select", has_text="scenario").first.click()
        self.page.locator(".v-menu__content .v-list-item", has_text=name).click()
        expect(self.page.locator(".cbsim-scenario")).to_have_text(f"scenario: {name}")

    def screenshot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / name
        self.page.mouse.move(0, 0)  # no hover highlight on the last button pressed
        self.page.wait_for_timeout(300)
        self.page.screenshot(path=str(path))
        assert path.stat().st_size > 10_000
        return path

    def close(self) -> list[str]:
        self.page.wait_for_load_state("networkidle")  # late responses count too
        self.context.close()
        return self.problems


@pytest.fixture
def open_tab(browser):
    """Open tabs on a URL; after the test, fail on anything any tab recorded."""
    tabs: list[Tab] = []

    def open_(url: str) -> Tab:
        tabs.append(Tab(browser, url))
        return tabs[-1]

    yield open_
    problems = [p for tab in tabs for p in tab.close()]
    assert not problems, "problems in the browser:\n" + "\n".join(problems)


def start_values(scenario: str) -> CommunityBudgetModel:
    """The model the page should open with (same scenario, same default seed)."""
    from cbsim.workshop.app import DEFAULT_SEED

    return CommunityBudgetModel(scenario=scenario, rng=DEFAULT_SEED)


# ------------------------------------------------------------------------------- tests
def test_page_loads_offline_and_steps_month_by_month(viz_url, open_tab):
    tab = open_tab(viz_url)
    model = start_values("baseline_2011")
    assert tab.month() == "2011-04"
    assert tab.developing() == model.count_developing == 28
    assert tab.text(".cbsim-scenario") == "scenario: baseline_2011"
    assert tab.page.locator("img.cbsim-figure").count() == 2
    assert tab.page.locator(".cbsim-departments tbody tr").count() == len(model.departments) + 1
    assert "first stocktake" in tab.text(".cbsim-panel-log")

    months = [tab.step() for _ in range(3)]
    assert months == ["2011-05", "2011-06", "2011-07"]
    counts = [tab.developing()]
    while counts[-1] == 28 and len(counts) < 12:
        tab.step()
        counts.append(tab.developing())
    assert counts[-1] != 28, f"adoption count never moved in {len(counts) + 2} months"
    assert tab.page.locator(".cbsim-log li").count() >= 1  # the May 2011 stocktake at least
    tab.screenshot("workshop-stepped.png")


def test_slider_then_reset_restarts_with_the_new_value(viz_url, open_tab):
    tab = open_tab(viz_url)
    assert tab.incentive("offer.funding_boost_m") == "£0m/yr"
    tab.step()
    tab.step()
    slider = tab.slider("funding boost")
    slider.focus()
    for _ in range(4):  # four slider steps of £0.5m/yr
        tab.page.keyboard.press("ArrowRight")
    expect(slider).to_have_attribute("aria-valuenow", "2")
    assert tab.incentive("offer.funding_boost_m") == "£0m/yr"  # applies on Reset, not before
    tab.press("Reset")
    expect(tab.page.locator(".cbsim-month")).to_have_text("2011-04")
    expect(
        tab.page.locator('.cbsim-incentives tr[data-path="offer.funding_boost_m"] td.value')
    ).to_have_text("£2m/yr")
    assert tab.developing() == 28
    # ... and the restarted model runs with it: £2m/yr more per council pulls councils in.
    tab.step()
    tab.step()
    boosted = CommunityBudgetModel(
        scenario="baseline_2011", rng=1, **{"offer.funding_boost_m": 2.0}
    )
    boosted.run_for(2)
    assert tab.developing() == boosted.count_developing


def test_scenario_picker_restarts_with_that_scenarios_values(viz_url, open_tab):
    tab = open_tab(viz_url)
    tab.step()
    tab.slider("funding boost").focus()
    tab.page.keyboard.press("End")
    tab.pick_scenario("troubled_families_2012")
    assert tab.month() == "2011-04"
    assert tab.incentive("offer.payment_by_results_m") == "£0.98m/yr"
    # the sliders start again from the picked scenario's values
    expect(tab.slider("funding boost")).to_have_attribute("aria-valuenow", "0")
    tab.press("Reset")
    expect(
        tab.page.locator('.cbsim-incentives tr[data-path="offer.funding_boost_m"] td.value')
    ).to_have_text("£0m/yr")
    assert tab.text(".cbsim-scenario") == "scenario: troubled_families_2012"

    tab.pick_scenario("compelling_offer")
    assert tab.incentive("offer.national_pooling") == "on"
    assert tab.incentive("offer.reinvest_savings") == "on"
    for _ in range(7):
        tab.step()
    expected = start_values("compelling_offer")
    expected.run_for(7)
    assert tab.month() == expected.month == "2011-11"
    assert tab.developing() == expected.count_developing
    assert tab.page.locator(".cbsim-stance", has_text="pool").count() >= 1
    # docs/workshop.png is a copy of this screenshot
    tab.screenshot("workshop-compelling-offer.png")


def test_play_runs_month_after_month_and_pause_stops(viz_url, open_tab):
    tab = open_tab(viz_url)
    tab.press("▶")
    expect(tab.page.locator(".cbsim-month")).to_have_text("2011-07", timeout=UI_TIMEOUT_MS)
    tab.press("❚❚")
    expect(tab.page.get_by_role("button", name="Step", exact=True)).to_be_enabled()
    tab.page.wait_for_timeout(1000)  # a step already under way when paused may still land
    paused = tab.month()
    tab.page.wait_for_timeout(1500)  # more than three play intervals
    assert tab.month() == paused
    assert tab.step() > paused


def test_every_tab_has_its_own_model(viz_url, open_tab):
    first, second = open_tab(viz_url), open_tab(viz_url)
    for _ in range(3):
        first.step()
    assert first.month() == "2011-07"
    second.page.wait_for_timeout(500)
    assert second.month() == "2011-04"
    assert second.step() == "2011-05"
    assert first.month() == "2011-07"


@pytest.fixture
def app_file_url(tmp_path) -> Iterator[str]:
    """`solara run cbsim/workshop/app.py` (the file, as Solara's docs have it), scenario from the
    environment. Requested before `open_tab`, so the tabs close before the server stops."""
    command = [
        sys.executable,
        "-m",
        "solara",
        "run",
        "cbsim/workshop/app.py",
        "--port",
        str(free_port()),
        "--production",
        "--no-open",
    ]
    process, url = start_server(
        command, tmp_path / "solara.log", env={"CBSIM_SCENARIO": "compelling_offer"}
    )
    yield url
    stop_server(process)


def test_solara_run_app_file_opens_the_scenario_in_the_environment(app_file_url, open_tab):
    tab = open_tab(app_file_url)
    assert tab.text(".cbsim-scenario") == "scenario: compelling_offer"
    assert tab.incentive("offer.national_pooling") == "on"
    assert tab.step() == "2011-05"
