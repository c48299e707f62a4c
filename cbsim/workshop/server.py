"""`cbsim viz`: serve the workshop view (cbsim/workshop/app.py) with Solara's server.

Run as ``python -m cbsim.workshop.server assets`` it lists the front-end assets for
scripts/setup_browser.sh."""

from __future__ import annotations

import ctypes
import errno
import ipaddress
import os
import re
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from cbsim.inputs.errors import InputError, printable
from cbsim.inputs.scenario import load_scenario, resolve_scenario_path, scenario_dir

APP_MODULE = "cbsim.workshop.app"
SCENARIO_ENV = "CBSIM_SCENARIO"  # the scenario the page opens with (name or absolute path)
POSTERIOR_ENV = "CBSIM_POSTERIOR"  # the calibration folder the odds are drawn over (optional)
ASSET_MARK = ".cbsim-npm-pack"  # written by scripts/setup_browser.sh into each complete package
_ASSET_SPEC = re.compile(r"/((?:@[a-z0-9][\w.-]*/)?[a-z0-9][\w.-]*@\d[\w.+-]*)/")


def solara_asset_cache() -> Path:
    """Where Solara's server looks for its front-end assets before asking the CDN."""
    from solara.server import settings

    return Path(settings.assets.proxy_cache_dir)


def solara_asset_packages() -> list[str]:
    """The npm packages (`name@version`) a SolaraViz page asks Solara's CDN proxy for.

    Read from the installed Solara (its page template, font-awesome setting, Markdown, grid
    and Vega-Lite widgets), so an upgrade of Solara that moves a version is followed.
    """
    import solara

    root = Path(solara.__file__).parent
    files = [
        root / "server/templates/solara.html.j2",
        root / "server/settings.py",
        root / "components/markdown.py",
        *sorted((root / "widgets/vue").glob("*.vue")),
    ]
    found: set[str] = set()
    for path in files:
        found.update(_ASSET_SPEC.findall(path.read_text(encoding="utf-8")))
    return sorted(found)


def missing_solara_assets() -> list[str]:
    """The asset packages not yet unpacked into the cache (the page then needs the CDN)."""
    cache = solara_asset_cache()
    return [pkg for pkg in solara_asset_packages() if not (cache / pkg / ASSET_MARK).is_file()]


def resolve_host(host: str) -> list[tuple[int, str]]:
    """The addresses `host` stands for, as (family, address) pairs; one-line `InputError`
    naming ``--host`` when it is empty or names nothing."""
    if not host.strip():
        raise InputError("--host", None, "empty address (give one, e.g. 127.0.0.1 or 0.0.0.0)")
    try:
        found = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise InputError("--host", None, f"{printable(host)}: no such address ({reason})") from None
    addresses: list[tuple[int, str]] = []
    for family, _type, _proto, _name, sockaddr in found:
        if family in (socket.AF_INET, socket.AF_INET6) and (family, sockaddr[0]) not in addresses:
            addresses.append((family, str(sockaddr[0])))
    if not addresses:
        raise InputError("--host", None, f"{printable(host)}: not an IP address or host name")
    return addresses


def is_loopback(host: str) -> bool:
    """True when `host` is reachable from this machine only: every address it stands for
    is a loopback address (127.x, ::1; `localhost`, `127.1` and the like resolve to those)."""
    try:
        addresses = resolve_host(host)
    except InputError:
        return False
    return all(ipaddress.ip_address(address.split("%")[0]).is_loopback for _, address in addresses)


def server_command(host: str, port: int) -> list[str]:
    """The `solara run` command line that serves the workshop view."""
    return [
        sys.executable,
        "-m",
        "solara",
        "run",
        APP_MODULE,
        "--host",
        host,
        "--port",
        str(port),
        "--production",
        "--no-open",
        "--log-level",
        "warning",
    ]


def server_environment(scenario: str, posterior: str | None = None) -> dict[str, str]:
    """The server's environment: the scenario to open with, the posterior the odds are
    drawn over (if any), no telemetry calling home (the venue may have no internet) and no
    "runs on Solara" banner over the page."""
    env = dict(os.environ)
    env[SCENARIO_ENV] = scenario
    env.pop(POSTERIOR_ENV, None)
    if posterior is not None:
        env[POSTERIOR_ENV] = posterior
    env["SOLARA_TELEMETRY_MIXPANEL_ENABLE"] = "False"
    env["SOLARA_THEME_SHOW_BANNER"] = "False"
    return env


def hide_solara_banner() -> None:
    """No "This website runs on Solara" banner (it sits over the page's bottom right)."""
    from solara.server import settings

    settings.theme.show_banner = False


PORT_RANGE = "1-65535, or 0 for any free port"


def _check_port_free(host: str, port: int) -> int:
    """The port to serve on: `port` if `host` can listen on it, else one-line `InputError`
    naming ``--host`` (an address this machine does not have) or ``--port`` (in use, not
    allowed). Port 0 picks a free port and returns it."""
    if not 0 <= port <= 65535:
        raise InputError("--port", None, f"{port} is not a port number ({PORT_RANGE})")
    family, address = resolve_host(host)[0]
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((address, port))
        except OSError as exc:
            option = "--host" if exc.errno == errno.EADDRNOTAVAIL else "--port"
            raise InputError(
                option, None, f"cannot listen on {host}:{port} ({exc.strerror or exc})"
            ) from None
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class Launch:
    """The workshop server, checked and ready to start: its command line and environment,
    and what to tell the user (the caller shows it: this module prints nothing)."""

    command: list[str]
    env: dict[str, str]
    status: str  # where the page is, and how to stop it
    warnings: list[str] = field(default_factory=list)  # each one line


def prepare(
    scenario: str = "baseline_2011",
    host: str = "127.0.0.1",
    port: int = 8765,
    posterior: str | os.PathLike[str] | None = None,
) -> Launch:
    """Check the scenario, the posterior (if given) and the address, and say how the view
    will be served.

    Binds 127.0.0.1 unless told otherwise, and warns when told to bind another address
    (anyone who can reach it can then run models on this machine), or when the page's
    front-end packages are not cached (it then needs internet access).
    """
    spec = load_scenario(scenario)  # a bad name or file fails here, with one line
    folder = None
    if posterior is not None:
        from cbsim.calibrate.posterior import Posterior

        drawn = Posterior.load(posterior)  # a bad folder fails here, with one line
        folder = str(drawn.folder)
    path = resolve_scenario_path(scenario).resolve()
    opens = path.stem if path.parent == scenario_dir().resolve() else str(path)
    port = _check_port_free(host, port)  # 0: the free port picked
    shown = f"[{host}]" if ":" in host else host
    over = f", odds over the posterior in {folder} ({len(drawn)} particles)" if folder else ""
    status = f"cbsim viz: scenario {spec.name}{over} at http://{shown}:{port}/ (Ctrl-C to stop)"
    warnings = []
    missing = missing_solara_assets()
    if missing:
        warnings.append(
            f"cbsim viz: warning: {len(missing)} of Solara's front-end packages are not in "
            f"{solara_asset_cache()}: the page will need internet access to load; "
            "run scripts/setup_browser.sh .venv (or make browser) to work offline"
        )
    if not is_loopback(host):
        warnings.append(
            f"cbsim viz: warning: listening on {host}, not 127.0.0.1: anyone who can "
            "reach this address can open the page and run models on this machine"
        )
    env = server_environment(opens, folder)
    return Launch(server_command(host, port), env, status, warnings)


PR_SET_PDEATHSIG = 1  # linux/prctl.h
STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)  # a process manager's stop; a closed terminal


def _die_with_parent(parent: int) -> None:
    """In the server's process, before it runs: ask Linux to send it SIGTERM when
    `cbsim viz` dies, however it dies (SIGKILL included), so no server is left answering on
    the port. Elsewhere (no prctl) this does nothing.

    Linux sends the signal when the *thread* that started the process ends, not only the
    process: use it only for a child started from a thread that lives as long as the
    parent (here `cbsim viz`'s main thread). A pool whose workers may be started from
    short-lived threads (a Solara `use_thread`, an executor's own thread) would see its
    workers killed when such a thread ends."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # `cbsim viz` died before the request was made
        os.kill(os.getpid(), signal.SIGTERM)


def run_server(launch: Launch) -> int:
    """Run the server until it stops or is interrupted; return the exit status.

    The server dies with `cbsim viz`: SIGTERM and SIGHUP stop it, and on Linux even a
    SIGKILL of `cbsim viz` stops it (`_die_with_parent`)."""
    parent = os.getpid()
    process = subprocess.Popen(
        launch.command,
        env=launch.env,
        preexec_fn=(lambda: _die_with_parent(parent)) if sys.platform == "linux" else None,
    )
    # Stopping `cbsim viz` (Ctrl-C, SIGTERM from a process manager, SIGHUP when its terminal
    # closes) stops the server too.
    previous = {sig: signal.signal(sig, lambda *_: process.terminate()) for sig in STOP_SIGNALS}
    try:
        return process.wait()
    except KeyboardInterrupt:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        return 0
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def serve(scenario: str = "baseline_2011", host: str = "127.0.0.1", port: int = 8765) -> int:
    """Serve the workshop view for `scenario` until interrupted, silently; return the exit
    status. (`cbsim viz` calls `prepare` and `run_server` itself, to show what it says.)"""
    return run_server(prepare(scenario, host, port))


if __name__ == "__main__":  # used by scripts/setup_browser.sh
    if sys.argv[1:] == ["assets"]:
        print(solara_asset_cache())
        print("\n".join(solara_asset_packages()))
    else:
        sys.exit("usage: python -m cbsim.workshop.server assets")
