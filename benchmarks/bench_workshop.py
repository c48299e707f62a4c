"""How long one Step takes in the workshop view, with all 152 councils.

1. In the server: the model's step plus building every panel (both figures as SVG, the
   tables, the log), per month over whole runs of two scenarios.
2. In a real browser (when /usr/bin/chromium and Solara's cached assets are there): from the
   click on Step until the month label and both figures on the page show the new month,
   i.e. model step + panels + Solara's render + websocket + the browser's redraw.

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
from cbsim.workshop.panels import (
    action_log_html,
    council_map_figure,
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
            figure_svg(council_map_figure(model))
            figure_svg(adoption_figure(model))
            headline_html(model), departments_html(model), action_log_html(model)
            incentives_html(model)
            t2 = time.perf_counter()
            step_t.append(t1 - t0)
            panel_t.append(t2 - t0)
        print(f"server, {scenario} ({len(model.council_list)} councils)")
        print(f"  model step only:        {summary(step_t)}")
        print(f"  model step + panels:    {summary(panel_t)}")


def browser_side() -> None:
    if not Path(CHROMIUM).exists() or missing_solara_assets():
        print("browser: skipped (run scripts/setup_browser.sh .venv first)")
        return
    from playwright.sync_api import expect, sync_playwright

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
    try:
        for _ in range(240):
            try:
                urllib.request.urlopen(url, timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            page.goto(url)
            expect(page.locator("img.cbsim-figure")).to_have_count(2, timeout=60_000)
            for scenario in SCENARIOS:
                if scenario != SCENARIOS[0]:
                    page.locator(".v-select", has_text="scenario").first.click()
                    page.locator(".v-menu__content .v-list-item", has_text=scenario).click()
                    expect(page.locator(".cbsim-scenario")).to_have_text(f"scenario: {scenario}")
                    expect(page.locator("img.cbsim-figure")).to_have_count(2)
                times = []
                step = page.get_by_role("button", name="Step", exact=True)
                while step.is_enabled():
                    month = page.inner_text(".cbsim-month")
                    srcs = [
                        page.locator("img.cbsim-figure").nth(i).get_attribute("src")
                        for i in range(2)
                    ]
                    t0 = time.perf_counter()
                    step.click()
                    page.wait_for_function(
                        """([month, srcs]) => {
                            const imgs = document.querySelectorAll('img.cbsim-figure');
                            return document.querySelector('.cbsim-month').innerText !== month
                                && imgs.length === 2 && imgs[0].complete && imgs[1].complete
                                && imgs[0].src !== srcs[0] && imgs[1].src !== srcs[1];
                        }""",
                        arg=[month, srcs],
                        timeout=20_000,
                    )
                    times.append(time.perf_counter() - t0)
                print(f"browser, {scenario}: click Step -> new month and both figures shown")
                print(f"  {summary(times)}")
            browser.close()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=15)


if __name__ == "__main__":
    print(f"cpu count {os.cpu_count()}, python {sys.version.split()[0]}")
    server_side()
    browser_side()
