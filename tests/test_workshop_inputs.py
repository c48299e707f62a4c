"""What the workshop page accepts from a browser (issue 11): only the values its controls
offer, and never a traceback on the page. Driven without a browser: the page is rendered
with Solara's test renderer and its widgets are set as a forged websocket update would set
them (tests/test_browser.py sends such updates from a real browser)."""

from __future__ import annotations

import math
import subprocess
import sys

import ipyvuetify as v
import pytest
import solara

from cbsim.inputs.parameters import declared
from cbsim.workshop import guard
from cbsim.workshop.app import Page, TabMemory, WorkshopModel, one_line
from cbsim.workshop.controls import SEED_MAX, RefusedInput, accepted_value, parse_seed

BASELINE = WorkshopModel(scenario_name="baseline_2011").params


# ------------------------------------------------------------------ the rendered page
class RenderedPage:
    """The workshop page as Solara renders it for one tab (sidebar included)."""

    def __init__(self) -> None:
        @solara.component
        def Tab() -> None:
            solara.AppLayout(children=[Page()])

        self.box, self.rc = solara.render(Tab(), handle_error=False)

    def widget(self, kind, label: str):
        return self.rc.find(kind, label=label).widget

    def press(self, name: str) -> None:
        self.rc.find(v.Btn, children=[name]).widget.click()

    def texts(self) -> list[str]:
        """Every text and HTML string on the page."""
        found: list[str] = []

        def walk(widget) -> None:
            for text in (getattr(widget, "unsafe_innerHTML", None), getattr(widget, "value", None)):
                if isinstance(text, str):
                    found.append(text)
            for child in getattr(widget, "children", None) or []:
                if isinstance(child, str):
                    found.append(child)
                else:
                    walk(child)
            for child in getattr(widget, "items", None) or []:
                if not isinstance(child, str | dict):
                    walk(child)

        walk(self.box)
        return found

    def text(self) -> str:
        return "\n".join(self.texts())

    def errors(self) -> list[str]:
        """The one-line errors shown (`cbsim.workshop.app.ErrorLine`)."""
        found = []

        def walk(widget) -> None:
            if "cbsim-error-text" in str(getattr(widget, "class_", "") or ""):
                found.extend(c for c in widget.children if isinstance(c, str))
            for child in getattr(widget, "children", None) or []:
                if not isinstance(child, str):
                    walk(child)

        walk(self.box)
        return found

    def scenario_shown(self) -> str:
        text = self.text()
        start = text.index('class="cbsim-scenario">scenario: ') + len('class="cbsim-scenario">')
        return text[start : text.index("<", start)]


@pytest.fixture
def page() -> RenderedPage:
    return RenderedPage()


def assert_no_traceback(page: RenderedPage) -> None:
    text = page.text()
    assert "Traceback" not in text and 'File "/' not in text and ".py" not in text


# ------------------------------------------------------------------ scenario picker
@pytest.mark.parametrize("forged", ["/etc/passwd", "/no/such/file.toml", "TOML", 7, None, ""])
def test_scenario_picker_takes_only_the_offered_names(page, tmp_path, forged):
    """A forged picker value is ignored, the same way whether or not it names a file:
    no file is opened, nothing is added to the picker, the page shows no error."""
    if forged == "TOML":  # a valid scenario file elsewhere on disk
        forged = str(tmp_path / "elsewhere.toml")
        (tmp_path / "elsewhere.toml").write_text('name = "elsewhere"\ndescription = "x"\n')
    picker = page.widget(v.Select, "scenario")
    offered = list(picker.items)
    picker.v_model = forged  # what a forged update does once past the guard
    picker = page.widget(v.Select, "scenario")
    assert picker.v_model == "baseline_2011"  # the page is told the scenario in use
    assert list(picker.items) == offered
    assert page.scenario_shown() == "scenario: baseline_2011"
    assert page.errors() == []
    assert_no_traceback(page)


def test_scenario_picker_still_switches_to_an_offered_scenario(page):
    page.widget(v.Select, "scenario").v_model = "compelling_offer"
    assert page.scenario_shown() == "scenario: compelling_offer"


def test_the_guard_refuses_a_forged_picker_value_before_any_handler(page, capsys):
    picker = page.widget(v.Select, "scenario")
    picker.set_state({"v_model": "/etc/passwd"})  # as Solara applies a websocket update
    assert picker.v_model == "baseline_2011"
    picker.set_state({"items": ["/etc/passwd"], "v_model": "/etc/passwd"})
    assert "/etc/passwd" not in picker.items and picker.v_model == "baseline_2011"
    assert "cbsim viz: refused a value sent by a page for a Select" in capsys.readouterr().err


# ------------------------------------------------------------------ sliders and switches
def test_the_guard_clamps_sliders_and_refuses_what_is_not_a_number(page):
    boost = page.widget(v.Slider, "funding boost (£m/yr)")
    boost.set_state({"v_model": 1e300})
    assert boost.v_model == boost.max == 50
    boost.set_state({"v_model": -5})
    assert boost.v_model == 0
    for bad in ("abc", None, True, [1], {"x": 1}, math.inf, math.nan):
        boost.set_state({"v_model": bad})
        assert boost.v_model == 0, bad
    play = page.widget(v.Slider, "play speed (seconds a month)")
    play.set_state({"v_model": 0})
    assert play.v_model == 0.1
    play.set_state({"v_model": 10**12})
    assert play.v_model == 2.0
    pooling = page.widget(v.Checkbox, "national pooling")
    pooling.set_state({"v_model": "yes"})
    assert pooling.v_model is False
    stance = page.widget(v.Select, "DWP stance")
    before = stance.v_model
    stance.set_state({"v_model": "abolish"})
    assert stance.v_model == before == BASELINE["departments.DWP.stance"]
    assert page.errors() == []
    assert_no_traceback(page)


def test_checked_state_keeps_to_what_each_widget_offers():
    select = v.Select(items=["a", {"text": "B", "value": "b"}], v_model="a")
    assert guard.checked_state(select, {"v_model": "b"}) == ({"v_model": "b"}, [])
    assert guard.checked_state(select, {"v_model": "c"}) == ({}, ["v_model"])
    slider = v.Slider(min=0, max=10, v_model=3)
    assert guard.checked_state(slider, {"v_model": 11}) == ({"v_model": 10}, ["v_model"])
    assert guard.checked_state(slider, {"max": 10**9}) == ({}, ["max"])
    text = v.TextField(v_model="")
    assert guard.checked_state(text, {"v_model": "x" * guard.TEXT_MAX})[1] == []
    assert guard.checked_state(text, {"v_model": "x" * (guard.TEXT_MAX + 1)})[1] == ["v_model"]
    menu = v.Menu(v_model=False)
    assert guard.checked_state(menu, {"v_model": "open"}) == ({}, ["v_model"])
    other = v.Btn()
    assert guard.checked_state(other, {"anything": 1}) == ({"anything": 1}, [])


def test_the_model_clamps_or_ignores_what_the_page_sends():
    """Behind the guard, the model's constructor holds every incentive to its declaration."""
    sent = {
        "offer.funding_boost_m": 1e300,  # clamped to the declared max
        "council.peer_weight_m": -3,  # clamped to the min
        "offer.national_pooling": "yes",  # not a switch value: the scenario's stands
        "departments.DWP.stance": "abolish",  # not offered: the scenario's stands
        "ministerial.pressure_step": math.nan,  # not a number: the scenario's stands
        "timeline.end": "2099-01",  # not a control of the page: ignored
    }
    model = WorkshopModel(scenario_name="baseline_2011", **sent)
    p = declared()
    assert model.params["offer.funding_boost_m"] == p["offer.funding_boost_m"].max
    assert model.params["council.peer_weight_m"] == p["council.peer_weight_m"].min
    for path in ("offer.national_pooling", "departments.DWP.stance", "ministerial.pressure_step"):
        assert model.params[path] == BASELINE[path]
    assert model.params["timeline.end"] == BASELINE["timeline.end"]
    floor = WorkshopModel(scenario_name="dwp_engages", **{"departments.DWP.stance": "withhold"})
    assert floor.params["departments.DWP.stance"] == "pool"  # never below the floor


def test_accepted_value_by_kind():
    p = declared()
    assert accepted_value(p["offer.funding_boost_m"], 2, BASELINE) == 2.0
    assert accepted_value(p["offer.funding_boost_m"], True, BASELINE) is None
    assert accepted_value(p["offer.national_pooling"], 1, BASELINE) is None
    assert accepted_value(p["offer.national_pooling"], True, BASELINE) is True


# ------------------------------------------------------------------ the seed box
def test_seed_box_takes_only_a_bounded_whole_number():
    assert parse_seed("7") == 7 and parse_seed(" 42 ") == 42 and parse_seed(3) == 3
    assert parse_seed(str(SEED_MAX)) == SEED_MAX
    assert parse_seed("") is None and parse_seed(None) is None and parse_seed("  ") is None
    for bad in ("abc", "-1", str(SEED_MAX + 1), "9" * 5000, "٣", "1e3", True, -1, 2**80, 1.5):
        with pytest.raises(RefusedInput) as refused:
            parse_seed(bad)
        message = str(refused.value)
        assert "\n" not in message and len(message) < 200, message
        assert message.startswith("random seed refused: expected a whole number from 0 to")
    with pytest.raises(RefusedInput, match="got a 5,000-digit number"):
        parse_seed("9" * 5000)


def test_a_huge_seed_typed_in_the_seed_box_is_refused_in_one_line(page):
    page.press("Step")
    seed = page.widget(v.TextField, "random seed")
    seed.set_state({"v_model": "9" * 5000})
    seed.fire_event("focusout")  # the seed box takes its text on leaving it (or Enter)
    page.press("Reset")  # must not raise
    (line,) = page.errors()
    assert line.startswith("random seed refused: expected a whole number from 0 to")
    assert "got a 5,000-digit number; the run restarted with seed 1" in line
    assert_no_traceback(page)
    page.press("OK")
    assert page.errors() == []
    seed.set_state({"v_model": "3"})
    seed.fire_event("focusout")
    page.press("Reset")
    assert page.errors() == []


def test_a_refused_seed_without_a_tab_raises_one_line():
    with pytest.raises(RefusedInput):
        WorkshopModel(scenario_name="baseline_2011", rng="9" * 5000)
    tab = TabMemory(solara.reactive(None))
    WorkshopModel(scenario_name="baseline_2011", rng="12", tab=tab)
    assert tab.seed == 12 and tab.notice.value is None
    WorkshopModel(scenario_name="baseline_2011", rng="x", tab=tab)
    assert tab.notice.value.endswith("the run restarted with seed 12")


# ------------------------------------------------------------------ no traceback on a page
def test_an_error_in_an_event_handler_reaches_the_page_as_one_line(capsys):
    sent = []

    class Socket:
        def send_json(self, message):
            sent.append(message)

    class Context:
        control_sockets = [Socket()]

    class Shell:
        context = Context()

    try:
        raise OSError(2, "No such file or directory", "/srv/secret/path.toml")
    except OSError:
        guard.show_one_line(Shell())
    assert sent == [{"type": "exception", "traceback": guard.PAGE_ERROR}]
    assert "\n" not in guard.PAGE_ERROR and "/srv" not in guard.PAGE_ERROR
    err = capsys.readouterr().err
    assert "Traceback" in err and "/srv/secret/path.toml" in err


def test_the_page_module_replaces_solaras_traceback_sender_in_the_server():
    """In a process running Solara's server (its modules loaded first, as `solara run` does),
    importing the page installs the guard and the one-line sender."""
    code = (
        "import solara.server.app, solara.server.patch as patch, ipywidgets\n"
        "from cbsim.workshop import app, guard\n"
        "assert patch.FakeIPython.showtraceback is guard.show_one_line\n"
        "assert ipywidgets.Widget.set_state is not guard._installed[0]\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]


def test_unexpected_errors_are_one_line_without_their_message():
    line = one_line(OSError(2, "No such file", "/srv/secret"))
    assert line == (
        "Something went wrong (FileNotFoundError); the details are in the server's log."
    )
    assert one_line(RefusedInput("a\nb")) == "a b"


def test_a_scenario_that_cannot_be_opened_is_one_line_on_the_page(monkeypatch, tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text("this is = = not toml")
    monkeypatch.setenv("CBSIM_SCENARIO", str(bad))
    page = RenderedPage()
    (line,) = page.errors()
    assert "bad.toml" in line and "\n" not in line
    assert_no_traceback(page)
    monkeypatch.setenv("CBSIM_SCENARIO", str(tmp_path / "missing.toml"))
    assert len(RenderedPage().errors()) == 1
    assert sys.modules["cbsim.workshop.app"].initial_scenario().endswith("missing.toml")
