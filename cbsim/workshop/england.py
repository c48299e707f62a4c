"""England on a map: the 152 councils at their centroids, as inline SVG.

Longitude is scaled by cos(52.5°) so that distances are about equal in both directions. Each
council is a circle (class ``cbsim-council``, ``data-state``, ``data-name``) coloured by state;
pilots have a dark edge, Total Place authorities a dark centre. London's 33 boroughs are also
drawn magnified in an inset. Peer links are drawn only when asked for.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from html import escape
from typing import Any

from cbsim.outputs.figures import STATE_COLOURS

WIDTH, HEIGHT = 420.0, 470.0
MARGIN = 14.0
LON0, LON1, LAT0, LAT1 = -6.4, 1.8, 49.85, 55.85
ASPECT = math.cos(math.radians(52.5))
SCALE = min((WIDTH - 2 * MARGIN) / ((LON1 - LON0) * ASPECT), (HEIGHT - 2 * MARGIN) / (LAT1 - LAT0))
# London inset: the boroughs' box, magnified into the empty North Sea corner of the map
LONDON = (-0.56, 0.34, 51.27, 51.72)  # lon0, lon1, lat0, lat1
INSET = (282.0, 8.0, 130.0, 110.0)  # x, y, width, height on the map
RADIUS = 5.2


def project(lon: float, lat: float) -> tuple[float, float]:
    """Map coordinates (SVG, y down) of a point of England."""
    return MARGIN + (lon - LON0) * ASPECT * SCALE, MARGIN + (LAT1 - lat) * SCALE


def project_inset(lon: float, lat: float) -> tuple[float, float]:
    """Coordinates in the London inset."""
    x, y, w, h = INSET
    lon0, lon1, lat0, lat1 = LONDON
    scale = min(w / ((lon1 - lon0) * ASPECT), h / (lat1 - lat0))
    return x + (lon - lon0) * ASPECT * scale, y + (lat1 - lat) * scale


def _circle(council: Any, x: float, y: float, css: str, r: float) -> str:
    a = council.authority
    pilot = bool(a.pilot_area)
    edge = 'stroke="#111" stroke-width="2"' if pilot else 'stroke="#fff" stroke-width="0.6"'
    title = f"{a.name}: {council.state}" + (f", pilot ({a.pilot_area})" if pilot else "")
    title += ", Total Place" if a.total_place else ""
    dot = (
        f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r * 0.38:.1f}" fill="#111" pointer-events="none"/>'
        if a.total_place
        else ""
    )
    return (
        f'<circle class="{css}" data-state="{council.state}" data-name="{escape(a.name)}" '
        f'cx="{x:.1f}" cy="{y:.1f}" r="{r}" fill="{STATE_COLOURS[council.state]}" {edge}>'
        f"<title>{escape(title)}</title></circle>{dot}"
    )


def _links(councils: list[Any], edges: Iterable[tuple[int, int]]) -> str:
    points = {c.index: project(c.authority.lon, c.authority.lat) for c in councils}
    path = "".join(
        f"M{points[i][0]:.1f},{points[i][1]:.1f}L{points[j][0]:.1f},{points[j][1]:.1f}"
        for i, j in edges
        if i in points and j in points
    )
    return f'<path class="cbsim-links" d="{path}" stroke="#9aa3ab" stroke-width="0.5" fill="none"/>'


def england_svg(councils: list[Any], edges: Iterable[tuple[int, int]] | None = None) -> str:
    """The councils on a map of England as an SVG element (scales with its box)."""
    parts = [
        f'<svg class="cbsim-england" viewBox="0 0 {WIDTH:.0f} {HEIGHT:.0f}" role="img" '
        f'aria-label="map of England: {len(councils)} councils by state" '
        f'data-councils="{len(councils)}" preserveAspectRatio="xMidYMid meet">'
    ]
    if edges is not None:
        parts.append(_links(councils, edges))
    london = []
    for c in councils:
        x, y = project(c.authority.lon, c.authority.lat)
        parts.append(_circle(c, x, y, "cbsim-council", RADIUS))
        if c.authority.region == "London":
            london.append(c)
    x, y, w, h = INSET
    parts.append(
        f'<rect x="{x - 4}" y="{y - 4}" width="{w + 8}" height="{h + 8}" fill="#f7f9fa" '
        'stroke="#9aa3ab" stroke-width="0.8" rx="4"/>'
        f'<text x="{x + w / 2:.0f}" y="{y + h + 18:.0f}" text-anchor="middle" font-size="11" '
        'fill="#444">London (magnified)</text>'
    )
    for c in london:
        ix, iy = project_inset(c.authority.lon, c.authority.lat)
        parts.append(_circle(c, ix, iy, "cbsim-council-inset", RADIUS))
    parts.append("</svg>")
    return "".join(parts)


def legend_html(councils: list[Any]) -> str:
    """Counts by state, and what the edges and dots mean."""
    counts = {state: 0 for state in STATE_COLOURS}
    for c in councils:
        counts[c.state] = counts.get(c.state, 0) + 1
    items = [
        f'<span><i class="cbsim-dot" style="background:{colour}"></i>{state} '
        f'<b class="cbsim-count-{state}">{counts[state]}</b></span>'
        for state, colour in STATE_COLOURS.items()
    ]
    items.append('<span><i class="cbsim-dot cbsim-pilot"></i>pilot</span>')
    items.append('<span><i class="cbsim-dot cbsim-tp"></i>Total Place</span>')
    return f'<div class="cbsim-legend">{"".join(items)}</div>'
