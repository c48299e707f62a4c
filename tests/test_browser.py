"""The workshop view in a real browser: Playwright drives Debian's Chromium (headless) against
`cbsim viz` and `solara run cbsim/workshop/app.py` subprocesses on free ports, with no internet: the
browser may only talk to the local server, and the server's CDN points nowhere, so every
front-end asset must come from the offline cache that scripts/setup_browser.sh fills.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import cbsim
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
ODDS_TIMEOUT_MS = 60_000  # the first odds start the worker processes; the machine is busy

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
def viz_server(tmp_path_factory) -> Iterator[tuple[str, Path]]:
    """`cbsim viz baseline_2011` on a free port: its URL and its log (stdout and stderr)."""
    log = tmp_path_factory.mktemp("viz") / "server.log"
    command = [sys.executable, "-m", "cbsim", "viz", "baseline_2011", "--port", str(free_port())]
    process, url = start_server(command, log)
    yield url, log
    stop_server(process)


@pytest.fixture(scope="module")
def viz_url(viz_server) -> str:
    return viz_server[0]


# ------------------------------------------------------------------------------- browser
@pytest.fixture(scope="module")
def browser() -> Iterator:
    with playwright_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield chromium
        chromium.close()


def _forging(ws, forge: Callable[[dict], None]) -> None:
    """Pass a websocket's messages through, letting `forge` rewrite each JSON message the
    page sends (Solara's widget protocol) before the server gets it."""
    server = ws.connect_to_server()

    def outgoing(message) -> None:
        if isinstance(message, str):
            data = json.loads(message)
            forge(data)
            message = json.dumps(data)
        server.send(message)

    ws.on_message(outgoing)


def widget_update(message: dict) -> dict | None:
    """The state of a widget update (`{"method": "update", "state": {...}}`) in a message."""
    data = message.get("content", {}).get("data", {})
    return data.get("state") if isinstance(data, dict) and data.get("method") == "update" else None


class Tab:
    """One browser tab (its own context, so its own Solara session) that records problems:
    console errors, page errors, failed responses, and any request off this machine."""

    def __init__(
        self,
        browser,
        url: str,
        forge: Callable[[dict], None] | None = None,
        size: tuple[int, int] = (1600, 1000),
    ) -> None:
        self.problems: list[str] = []
        self.context = browser.new_context(viewport={"width": size[0], "height": size[1]})
        self.context.route("**/*", self._only_local)
        self.page = self.context.new_page()
        if forge is not None:  # rewrite what the page sends the server, as a hostile page may
            self.page.route_web_socket("**", lambda ws: _forging(ws, forge))
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
            expect(self.page.locator("circle.cbsim-council")).to_have_count(152, timeout=30_000)
            expect(self.page.locator("img.cbsim-figure")).to_have_count(1, timeout=30_000)
            self.wait_for_odds()
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

    def wait_for_odds(self) -> str:
        """Wait until the live odds for the controls as set are shown; return their line."""
        ready = self.page.locator('.cbsim-odds[data-state="ready"]')
        expect(ready).to_have_count(1, timeout=ODDS_TIMEOUT_MS)
        return ready.inner_text()

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

    def open_(
        url: str,
        forge: Callable[[dict], None] | None = None,
        size: tuple[int, int] = (1600, 1000),
    ) -> Tab:
        tabs.append(Tab(browser, url, forge, size))
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
    assert tab.page.locator("img.cbsim-figure").count() == 1
    assert tab.page.locator('circle.cbsim-council[data-state="developing"]').count() == 28
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
    assert tab.incentive("offer.payment_by_results") == "on"
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


def next_month(month: str) -> str:
    year, number = (int(part) for part in month.split("-"))
    return f"{year + number // 12}-{number % 12 + 1:02d}"


STABLE_MS = 2_000  # five play intervals: a month label this still is not playing


def wait_until_month_is_still(tab: Tab) -> str:
    """Wait (at most UI_TIMEOUT_MS) until the month label has not changed for STABLE_MS;
    return it. While playing it changes every PLAY_INTERVAL_MS, so this never holds."""
    tab.page.wait_for_function(
        """([selector, stable]) => {
            const text = document.querySelector(selector).innerText;
            const now = performance.now();
            if (window.__cbsimMonth !== text) {
                window.__cbsimMonth = text;
                window.__cbsimSince = now;
            }
            return now - window.__cbsimSince >= stable;
        }""",
        arg=[".cbsim-month", STABLE_MS],
        polling=100,
        timeout=UI_TIMEOUT_MS,
    )
    return tab.month()


def test_play_runs_month_after_month_and_pause_stops(viz_url, open_tab):
    tab = open_tab(viz_url)
    tab.press("▶")
    expect(tab.page.locator(".cbsim-month")).to_have_text("2011-07", timeout=UI_TIMEOUT_MS)
    tab.press("❚❚")
    expect(tab.page.get_by_role("button", name="▶", exact=True)).to_be_visible()
    expect(tab.page.get_by_role("button", name="Step", exact=True)).to_be_enabled()
    paused = wait_until_month_is_still(tab)  # a step under way when paused may still land
    assert paused >= "2011-07"
    assert tab.step() == next_month(paused)  # one month a press: nothing else is stepping


def test_every_tab_has_its_own_model(viz_url, open_tab):
    first, second = open_tab(viz_url), open_tab(viz_url)
    for _ in range(3):
        first.step()
    assert first.month() == "2011-07"
    expect(second.page.locator(".cbsim-month")).to_have_text("2011-04")
    assert second.step() == "2011-05"  # its own model: not 2011-08
    expect(first.page.locator(".cbsim-month")).to_have_text("2011-07")


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


# ------------------------------------------------------------------------------- forged input
def assert_no_traceback_on(tab: Tab) -> None:
    body = tab.page.locator("body").inner_text()
    assert "Traceback" not in body and ".py" not in body, body[:2000]


def test_forged_widget_values_are_refused_by_the_server(viz_server, open_tab, tmp_path):
    """A page that sends values its controls never offered (issue 11): a path for the
    scenario picker (an existing file, a missing one, a valid scenario file elsewhere) and
    a slider value far out of range. The server keeps to what it offered and shows the
    page the values it holds; no traceback, and the same answer whether a file exists."""
    elsewhere = tmp_path / "elsewhere.toml"
    elsewhere.write_text('name = "elsewhere"\ndescription = "not offered"\n')
    paths = iter(["/etc/passwd", "/no/such/file.toml", str(elsewhere)])

    def forge(message: dict) -> None:
        state = widget_update(message)
        if state is None or "v_model" not in state:
            return
        if state["v_model"] == "compelling_offer":
            state["v_model"] = next(paths)
        elif state["v_model"] == 0.5:  # the funding boost slider's first step
            state["v_model"] = 1e300

    viz_url, log = viz_server
    tab = open_tab(viz_url, forge=forge)
    picker = tab.page.locator(".v-select", has_text="scenario").first
    for _ in range(3):
        picker.click()
        tab.page.locator(".v-menu__content .v-list-item", has_text="compelling_offer").click()
        expect(picker).to_contain_text("baseline_2011")  # the server's value, sent back
        expect(tab.page.locator(".cbsim-scenario")).to_have_text("scenario: baseline_2011")
        tab.page.keyboard.press("Escape")
    picker.click()
    expect(tab.page.locator(".v-menu__content .v-list-item")).to_have_count(5)  # not added
    tab.page.keyboard.press("Escape")
    slider = tab.slider("funding boost")
    slider.focus()
    tab.page.keyboard.press("ArrowRight")  # sent as 1e300: clamped to the range's top
    expect(slider).to_have_attribute("aria-valuenow", "50")
    tab.press("Reset")
    expect(
        tab.page.locator('.cbsim-incentives tr[data-path="offer.funding_boost_m"] td.value')
    ).to_have_text("£50m/yr")
    assert tab.page.locator(".cbsim-error-text").count() == 0
    assert_no_traceback_on(tab)
    refusals = log.read_text().splitlines()
    assert sum("refused a value sent by a page for a Select" in r for r in refusals) >= 3
    assert any("refused a value sent by a page for a Slider" in r for r in refusals)
    assert "Traceback" not in log.read_text()


def test_a_huge_seed_is_refused_in_one_line_on_the_page(viz_url, open_tab):
    tab = open_tab(viz_url)
    tab.step()
    seed = tab.page.get_by_label("random seed")
    seed.fill("9" * 5000)
    seed.press("Enter")
    tab.press("Reset")
    line = tab.page.locator(".cbsim-error-text")
    expect(line).to_contain_text("random seed refused: expected a whole number from 0 to")
    expect(line).to_contain_text("got a 5,000-digit number; the run restarted with seed 1")
    expect(tab.page.locator(".cbsim-month")).to_have_text("2011-04")
    assert line.count() == 1 and "\n" not in line.inner_text()
    assert_no_traceback_on(tab)
    tab.page.get_by_role("button", name="OK", exact=True).click()
    expect(line).to_have_count(0)


# ------------------------------------------------------------------------------- second version
def test_moving_a_slider_changes_the_live_odds_and_the_run_waits_for_reset(viz_url, open_tab):
    tab = open_tab(viz_url)
    before = tab.wait_for_odds()
    assert "P(target met) = 0%" in before and "of 100 runs (seeds 0–99)" in before
    tab.step()
    slider = tab.slider("funding boost")
    slider.focus()
    tab.page.keyboard.press("ArrowRight")  # £0.5m/yr
    tab.page.keyboard.press("ArrowRight")  # £1m/yr
    expect(slider).to_have_attribute("aria-valuenow", "1")
    odds = tab.page.locator(".cbsim-odds")
    expect(odds).not_to_have_text(before, timeout=ODDS_TIMEOUT_MS)
    after = tab.wait_for_odds()
    expected = sum(
        cbsim.simulate("baseline_2011", seed=i, **{"offer.funding_boost_m": 1.0})["target_met"]
        for i in range(100)
    )
    assert f"{expected} of 100 runs" in after and after != before
    assert tab.month() == "2011-05"  # the single run goes on: the sliders apply on Reset
    assert tab.incentive("offer.funding_boost_m") == "£0m/yr"
    assert "the runs’ mean to 2012-04 £0.0m" not in tab.text(".cbsim-money")


def test_the_page_has_what_the_room_needs_and_nothing_else(viz_url, open_tab):
    tab = open_tab(viz_url)
    body = tab.page.locator("body").inner_text()
    for absent in ("Page 0", "Use Threads", "Render Interval", "This website runs on Solara"):
        assert absent not in body
    for present in ("Reset", "▶", "Step"):
        expect(tab.page.get_by_role("button", name=present, exact=True)).to_be_visible()
    expect(tab.page.get_by_text("play speed (seconds a month)")).to_be_visible()
    assert tab.page.locator(".cbsim-history li").count() == 6
    assert "Troubled Families announced" in tab.text(".cbsim-history")
    tab.page.get_by_text("peer links").click()
    expect(tab.page.locator("path.cbsim-links")).to_have_count(1)
    assert tab.page.locator("circle.cbsim-council").count() == 152


PROJECTOR_PARTS = [
    ".cbsim-month",
    ".cbsim-developing",
    ".cbsim-verdict",
    ".cbsim-odds",
    ".cbsim-money",
    ".cbsim-england",
    "img.cbsim-figure",
    ".cbsim-history",  # the numbered events, every row of captions
]


def test_a_projector_sees_the_month_target_map_odds_and_incentives_without_scrolling(
    viz_url, open_tab
):
    tab = open_tab(viz_url, size=(1280, 720))
    boxes = {}
    for selector in PROJECTOR_PARTS:
        box = tab.page.locator(selector).bounding_box()
        assert box is not None, selector
        assert box["y"] >= 0 and box["y"] + box["height"] <= 720 + 1, (selector, box)
        assert box["x"] >= 0 and box["x"] + box["width"] <= 1280 + 1, (selector, box)
        boxes[selector] = box
    rows = tab.page.locator(".cbsim-history li")
    for i in range(rows.count()):  # every caption whole, not cut by the window's edge
        row = rows.nth(i).bounding_box()
        assert row is not None and row["y"] + row["height"] <= 720 - 2, (i, row)
    map_box, chart = boxes[".cbsim-england"], boxes["img.cbsim-figure"]
    assert map_box["x"] + map_box["width"] <= chart["x"] + 1  # side by side, no overlap
    for label in ("funding boost", "peer weight", "virtual value", "pressure step"):
        box = tab.slider(label).bounding_box()
        assert box is not None and box["y"] + box["height"] <= 720, label
    for label in (
        "national pooling",
        "reinvest savings",
        "champions network",
        "payment by results",
        "DWP stance",
    ):
        box = tab.page.locator("nav label.v-label", has_text=label).bounding_box()
        assert box is not None and box["y"] + box["height"] <= 720, label
    for name in ("Reset", "▶", "Step"):
        box = tab.page.get_by_role("button", name=name, exact=True).bounding_box()
        assert box is not None and box["y"] + box["height"] <= 720
