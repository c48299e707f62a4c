"""How fast the workshop view answers, with all 152 councils.

1. In the server: the model's step plus building every panel (the map as SVG, the adoption
   chart as SVG, the tables, the log), per month over whole runs of two scenarios; and the
   live odds (100 kernel runs) computed directly.
2. In a real browser (when /usr/bin/chromium and Solara's cached assets are there): from the
   click on Step until the month label, the map and the chart show the new month; and from a
   slider moved (a value not seen before) until the odds for it are on the page.
3. Screenshots of the page at 1280x720 and 1600x1000, saved as docs/workshop-1280x720.png and
   docs/workshop-1600x1000.png (docs/workshop.md shows them).

Prints the figures; asserts nothing. Run: .venv/bin/python benchmarks/bench_workshop.py
"""

from __future__ import annotations

import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from cbsim.outputs.figures import adoption_figure, figure_svg
from cbsim.workshop.app import WorkshopModel
from cbsim.workshop.england import england_svg
from cbsim.workshop.odds import ensemble
from cbsim.workshop.panels import (
    action_log_html,
    departments_html,
    headline_html,
    incentives_html,
)
from cbsim.workshop.server import missing_solara_assets

SCENARIOS = ("baseline_2011", "compelling_offer")
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]


def summary(times: list[float]) -> str:
    ms = sorted(t * 1000 for t in times)
    return (
        f"n={len(ms)}  median {statistics.median(ms):.1f} ms  "
        f"90th pct {ms[int(0.9 * (len(ms) - 1))]:.1f} ms  max {ms[-1]:.1f} ms"
    )


def server_side() -> None:
    for scenario in SCENARIOS:
        model = WorkshopModel(scenario_name=scenario)
        step_t, panel_t = [], []
        while model.running:
            t0 = time.perf_counter()
            model.step()
            t1 = time.perf_counter()
            england_svg(model.council_list)
            figure_svg(adoption_figure(model))
            headline_html(model), departments_html(model), action_log_html(model)
            incentives_html(model)
            t2 = time.perf_counter()
            step_t.append(t1 - t0)
            panel_t.append(t2 - t0)
        print(f"server, {scenario} ({len(model.council_list)} councils)")
        print(f"  model step only:        {summary(step_t)}")
        print(f"  model step + panels:    {summary(panel_t)}")
    times = []
    for boost in (0.1, 0.2, 0.3):
        t0 = time.perf_counter()
        ensemble(SCENARIOS[0], (("offer.funding_boost_m", boost),), parallel=False)
        times.append(time.perf_counter() - t0)
    print(f"server: odds (100 kernel runs, one process): {summary(times)}")


DOCS = Path(__file__).resolve().parent.parent / "docs"
NEW_FIGURES = """([month, srcs]) => {
    const img = document.querySelector('img.cbsim-figure');
    return document.querySelector('.cbsim-month').innerText !== month
        && img && img.complete && img.src !== srcs
        && document.querySelectorAll('circle.cbsim-council').length === 152;
}"""


def start_server() -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "cbsim", "viz", SCENARIOS[0], "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}/"
    for _ in range(240):
        try:
            urllib.request.urlopen(url, timeout=2)
            break
        except OSError:
            time.sleep(0.5)
    return server, url


def time_steps(page, expect) -> list[float]:
    times = []
    step = page.get_by_role("button", name="Step", exact=True)
    while step.is_enabled():
        month = page.inner_text(".cbsim-month")
        src = page.locator("img.cbsim-figure").get_attribute("src")
        t0 = time.perf_counter()
        step.click()
        page.wait_for_function(NEW_FIGURES, arg=[month, src], timeout=20_000)
        times.append(time.perf_counter() - t0)
    return times


def time_odds(page, expect, label: str, presses: int) -> list[float]:
    """Move a slider one step at a time (each value new to the server's cache); time each
    until the odds for it are shown."""
    slider = page.locator(".v-input", has_text=label).get_by_role("slider")
    times = []
    for _ in range(presses):
        before = page.locator(".cbsim-odds").get_attribute("data-key")
        slider.focus()
        t0 = time.perf_counter()
        page.keyboard.press("ArrowRight")
        page.wait_for_function(
            """(before) => {
                const odds = document.querySelector('.cbsim-odds');
                return odds.dataset.state === 'ready' && odds.dataset.key !== before;
            }""",
            arg=before,
            timeout=60_000,
        )
        times.append(time.perf_counter() - t0)
    return times


def open_page(browser, url: str, expect, size: tuple[int, int]):
    page = browser.new_page(viewport={"width": size[0], "height": size[1]})
    page.goto(url)
    expect(page.locator("circle.cbsim-council")).to_have_count(152, timeout=90_000)
    expect(page.locator('.cbsim-odds[data-state="ready"]')).to_have_count(1, timeout=90_000)
    return page


def screenshots(browser, url: str, expect) -> None:
    """The page as the room sees it: baseline_2011 with a £1m/yr funding boost, ten months in."""
    for size in ((1280, 720), (1600, 1000)):
        page = open_page(browser, url, expect, size)
        slider = page.locator(".v-input", has_text="funding boost").get_by_role("slider")
        slider.focus()
        page.keyboard.press("ArrowRight")
        page.keyboard.press("ArrowRight")
        expect(slider).to_have_attribute("aria-valuenow", "1")
        page.wait_for_function(  # the server has the slider's value: the odds are for it
            """() => { const odds = document.querySelector('.cbsim-odds');
                return odds.dataset.state === 'ready'
                    && odds.dataset.key.includes("'offer.funding_boost_m', 1.0)"); }""",
            timeout=60_000,
        )
        page.get_by_role("button", name="Reset", exact=True).click()
        expect(page.locator(".cbsim-month")).to_have_text("2011-04")
        for _ in range(10):
            month = page.inner_text(".cbsim-month")
            page.get_by_role("button", name="Step", exact=True).click()
            expect(page.locator(".cbsim-month")).not_to_have_text(month)
        expect(page.locator('.cbsim-odds[data-state="ready"]')).to_have_count(1, timeout=60_000)
        page.mouse.move(0, 0)
        page.wait_for_function("() => document.querySelector('img.cbsim-figure').complete")
        path = DOCS / f"workshop-{size[0]}x{size[1]}.png"
        page.screenshot(path=str(path))
        print(f"screenshot: {path}")
        page.close()


def browser_side() -> None:
    if not Path(CHROMIUM).exists() or missing_solara_assets():
        print("browser: skipped (run scripts/setup_browser.sh .venv first)")
        return
    from playwright.sync_api import expect, sync_playwright

    server, url = start_server()
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = open_page(browser, url, expect, (1600, 1000))
            for label, presses in (("funding boost", 10), ("peer weight", 10)):
                times = time_odds(page, expect, label, presses)
                print(f"browser: {label} slider moved -> new odds (100 runs) shown")
                print(f"  {summary(times)}")
            for scenario in SCENARIOS:
                if scenario != SCENARIOS[0]:
                    page.locator(".v-select", has_text="scenario").first.click()
                    page.locator(".v-menu__content .v-list-item", has_text=scenario).click()
                    expect(page.locator(".cbsim-scenario")).to_have_text(f"scenario: {scenario}")
                    expect(page.locator("img.cbsim-figure")).to_have_count(1)
                times = time_steps(page, expect)
                print(f"browser, {scenario}: click Step -> new month, map and chart shown")
                print(f"  {summary(times)}")
            page.close()
            screenshots(browser, url, expect)
            browser.close()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=15)


if __name__ == "__main__":
    print(
        f"cpu count {os.cpu_count()}, load {os.getloadavg()[0]:.1f}, "
        f"python {sys.version.split()[0]}"
    )
    server_side()
    browser_side()
