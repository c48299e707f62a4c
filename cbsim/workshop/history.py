"""The real history of the programme, drawn on the workshop's adoption chart.

One table, one line per event: the month, a caption of one line, and where it is from
(docs/sources.md, or docs/ODD.md where sources.md has no entry). The page numbers them on the
chart's time axis and lists the captions beside it.
"""

from __future__ import annotations

from typing import NamedTuple


class Event(NamedTuple):
    month: str  # YYYY-MM
    caption: str  # one line, in the room's words
    source: str


EVENTS: tuple[Event, ...] = (
    Event(
        "2011-04",
        "16 pilots (28 councils) go live",
        "sources.md: First phase — live from 1 April 2011 (Public Finance, 29 March 2011)",
    ),
    Event(
        "2011-05",
        "Bichard group's stocktake sets the half-by-April-2012 aim",
        "ODD.md §1: the 'tipping point' the Bichard group set in May 2011",
    ),
    Event(
        "2011-12",
        "Troubled Families announced: £448m, payment by results",
        "sources.md: Troubled Families — announced 15 December 2011",
    ),
    Event(
        "2011-12",
        "4 whole-place and 12 neighbourhood pilots chosen",
        "sources.md: Whole place and neighbourhood pilots — chosen 21 December 2011",
    ),
    Event(
        "2012-04",
        "target date: half of the 152 councils",
        "sources.md: First phase — DCLG aimed for about 50 more areas by April 2012",
    ),
    Event(
        "2012-06",
        "all councils opted in to Troubled Families",
        "sources.md: Troubled Families — all eligible councils opted in by 11 June 2012",
    ),
)
