"""What the workshop server accepts from a browser for its widgets' values.

Solara's widget protocol lets a page set any trait of any widget to any value (a message
``{"method": "update", "state": {"v_model": ...}}``), whatever the control offered. Before a
value reaches a widget, and so any callback, `checked_state` holds it to what the widget
itself offers: a choice one of its items, a slider a finite number clamped into its range,
a switch or checkbox true or false, a text box a string of bounded length; the page may
change nothing else of these widgets (their items, range or labels). What is refused is left
as it was, the browser is sent the widget's real value back, and one line goes to the
server's stderr. `install` puts the check in front of every widget of the server process, and
makes an error in an event handler reach the page as one line (`show_one_line`), its
traceback going to the server's stderr.

The handlers behind the controls check again (`cbsim.workshop.controls`), so a value that
passes here is still held to the parameter's declaration.
"""

from __future__ import annotations

import math
import sys
import traceback
from collections.abc import Callable
from typing import Any

import ipyvuetify as v
import ipywidgets

TEXT_MAX = 100_000  # characters a text box may hold (the seed box refuses past 21 digits)
VALUE_TRAIT = "v_model"
_REFUSED = object()
_installed: list[Callable[..., Any]] = []


def _choice(widget: Any, value: Any) -> Any:
    items = widget.items or []
    offered = [
        item.get("value", item.get("text")) if isinstance(item, dict) else item for item in items
    ]
    if getattr(widget, "multiple", False):
        ok = isinstance(value, list) and all(_offered(x, offered) for x in value)
        return value if ok else _REFUSED
    return value if _offered(value, offered) else _REFUSED


def _item_value(item: Any) -> Any:
    """An item's value: Vuetify items are values, or dicts with a value (or a text)."""
    return item.get("value", item.get("text")) if isinstance(item, dict) else item


def _offered(value: Any, offered: list[Any]) -> bool:
    """`value` is one of `offered` (a number is not taken for a boolean, or the reverse)."""
    return any(value == item and type(value) is type(item) for item in offered)


def _number(widget: Any, value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return _REFUSED
    low = widget.min if isinstance(widget.min, int | float) else 0  # Vuetify's defaults
    high = widget.max if isinstance(widget.max, int | float) else 100
    return min(max(value, low), high)


def _text(widget: Any, value: Any) -> Any:
    if value is None or (isinstance(value, str) and len(value) <= TEXT_MAX):
        return value
    return _REFUSED


def _switch(widget: Any, value: Any) -> Any:
    return value if isinstance(value, bool) else _REFUSED


def _check_for(widget: Any) -> Callable[[Any, Any], Any] | None:
    """How a widget's value is checked, or None for a widget this module leaves alone."""
    if isinstance(widget, v.Slider):
        return _number
    if isinstance(widget, v.Select | v.Autocomplete | v.RadioGroup) and not isinstance(
        widget, v.Combobox
    ):
        return _choice
    if isinstance(widget, v.TextField | v.Textarea | v.Combobox):
        return _text
    if isinstance(widget, v.Checkbox | v.Switch) or (
        isinstance(widget, v.VuetifyWidget) and isinstance(getattr(widget, VALUE_TRAIT, None), bool)
    ):
        return _switch  # and any other widget whose value is a flag (menus, drawers, dialogs)
    return None


def checked_state(widget: Any, state: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The part of `state` (sent by a page) that `widget` accepts, with a slider's value
    clamped; and the names of the traits refused or changed (the page must be told)."""
    check = _check_for(widget)
    if check is None:
        return state, []
    accepted: dict[str, Any] = {}
    corrected: list[str] = []
    for name, value in state.items():
        new = check(widget, value) if name == VALUE_TRAIT else _REFUSED
        if new is not _REFUSED:
            accepted[name] = new
        if new is _REFUSED or new != value:
            corrected.append(name)
    return accepted, corrected


def _guarded_set_state(original: Callable[..., Any]) -> Callable[..., Any]:
    def set_state(self: Any, sync_data: dict[str, Any]) -> None:
        accepted, corrected = checked_state(self, sync_data)
        if corrected:
            print(
                f"cbsim viz: refused a value sent by a page for a {type(self).__name__} "
                f"({', '.join(corrected)})",
                file=sys.stderr,
                flush=True,
            )
        original(self, accepted)
        known = [name for name in corrected if name in self.keys]
        if known:
            self.send_state(known)  # the page shows the value the server holds

    set_state.__doc__ = original.__doc__
    return set_state


PAGE_ERROR = "cbsim viz: something went wrong on the server; the details are in the server's log"


def show_one_line(self: Any) -> None:
    """Solara's `showtraceback` (called for an error in a widget's event handler), but the
    traceback goes to the server's stderr and the page gets one line (`PAGE_ERROR`)."""
    print("cbsim viz: error in the workshop page:", file=sys.stderr)
    traceback.print_exc(file=sys.stderr)
    sys.stderr.flush()
    for socket in list(getattr(self.context, "control_sockets", [])):
        try:
            socket.send_json({"type": "exception", "traceback": PAGE_ERROR})
        except Exception:  # a closed socket: nothing more to tell that page
            pass


def install() -> None:
    """Check every value a page sends for a widget of this process, and send no traceback
    to a page (once; idempotent)."""
    if _installed:
        return
    _installed.append(ipywidgets.Widget.set_state)
    ipywidgets.Widget.set_state = _guarded_set_state(ipywidgets.Widget.set_state)
    patch = sys.modules.get("solara.server.patch")  # loaded by Solara's server, not elsewhere
    if patch is not None:  # where the server sends an event handler's traceback to the page
        patch.FakeIPython.showtraceback = show_one_line
