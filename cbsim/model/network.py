"""The councils' peer network: who looks at whom when deciding to pool.

Links join councils in the same region and of the same type (Berry & Berry's neighbours,
Walker's cue-givers); links from regional leaders weigh more. A second set of links joins
councils to pilot "champions", used only while the champions network runs. The graph is
drawn from the model's rng, so the same seed gives the same network.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache, cached_property
from typing import TYPE_CHECKING

import numpy as np

from cbsim.inputs.reference import Authority
from cbsim.model.draws import SamplePlan

if TYPE_CHECKING:  # networkx and scipy are imported on first use: headless runs need neither
    import networkx as nx
    from scipy import sparse

LEADER_AREAS = frozenset({"Greater Manchester", "West London", "Essex"})

# Rough geographic centres of the nine English regions (x east, y north), for a map-like layout.
REGION_CENTRES = {
    "North East": (0.62, 0.92),
    "North West": (0.36, 0.80),
    "Yorkshire and the Humber": (0.64, 0.74),
    "West Midlands": (0.40, 0.52),
    "East Midlands": (0.62, 0.55),
    "East of England": (0.88, 0.44),
    "London": (0.74, 0.28),
    "South East": (0.80, 0.10),
    "South West": (0.22, 0.16),
}


@dataclass(frozen=True)
class Influence:
    """How much each neighbour's example weighs on each council: rows sum to 1.

    Entry k is the weight `weights[k]` of council `cols[k]` on council `rows[k]`, in the order
    in which scipy stores the CSR matrix ``diags(1 / row totals) @ links`` (rows ascending,
    each row's columns descending), so `share` adds up exactly as that matrix's product does.
    """

    n: int
    rows: np.ndarray  # (k,) intp, ascending
    cols: np.ndarray  # (k,) intp
    weights: np.ndarray  # (k,) float

    def share(self, developing: np.ndarray) -> np.ndarray:
        """Per council, the weighted share of its peers that are developing (0/1 per council).

        Bit for bit ``matrix @ developing.astype(float)``: bincount adds each row's terms in
        order starting from 0, as scipy's csr_matvec does.
        """
        if not self.rows.size:
            return np.zeros(self.n)
        terms = self.weights * np.asarray(developing, dtype=float)[self.cols]
        return np.bincount(self.rows, weights=terms, minlength=self.n)

    def matrix(self) -> sparse.csr_matrix:
        """The same influence as a scipy CSR matrix, stored as scipy's own product would be."""
        from scipy import sparse

        keep = self.weights != 0  # scipy's matrix product drops zero entries
        indptr = np.concatenate([[0], np.cumsum(np.bincount(self.rows[keep], minlength=self.n))])
        return sparse.csr_matrix(
            (self.weights[keep], self.cols[keep], indptr), shape=(self.n, self.n)
        )


@dataclass(frozen=True)
class PeerNetwork:
    """The peer links and their row-normalised influence.

    Links are (i, j) pairs with i < j, sorted. The networkx `graph` and the scipy matrices are
    built from them on first use (the view and analyses need them; a headless run needs only
    `peer_share`).
    """

    n: int
    peer_links: np.ndarray  # (k, 2) region and type links
    champion_links: np.ndarray  # (m, 2) links to pilot champions not already peer links
    peer_influence: Influence  # region and type links
    influence_with_champions: Influence  # the same plus links to pilot champions

    def peer_share(self, developing: np.ndarray, champions: bool) -> np.ndarray:
        """Per council, the weighted share of its peers (and champions if `champions`) developing.

        `developing` is a bool (or 0/1) per council. Bit for bit
        ``(with_champions if champions else peers) @ developing.astype(float)``.
        """
        influence = self.influence_with_champions if champions else self.peer_influence
        return influence.share(developing)

    @cached_property
    def peers(self) -> sparse.csr_matrix:
        """Region and type links' influence as a scipy matrix (scipy imported on first use)."""
        return self.peer_influence.matrix()

    @cached_property
    def with_champions(self) -> sparse.csr_matrix:
        """The same plus links to pilot champions, as a scipy matrix."""
        return self.influence_with_champions.matrix()

    @cached_property
    def graph(self) -> nx.Graph:
        """The peer graph: nodes are council indices, edges have kind "peer" or "champion"."""
        import networkx as nx

        graph = nx.Graph()
        graph.add_nodes_from(range(self.n))
        graph.add_edges_from(map(tuple, self.peer_links.tolist()), kind="peer")
        graph.add_edges_from(map(tuple, self.champion_links.tolist()), kind="champion")
        return graph


Members = tuple[tuple[int, ...], int]  # a group's council indices, and one council's position


@dataclass(frozen=True)
class _Groups:
    """Static structure of a set of councils, computed once per process (see `_groups_of`)."""

    region: tuple[Members, ...]  # per council: its region's members and its position there
    type: tuple[Members, ...]  # the same for its type
    pilots: tuple[Members, ...]  # per council: the pilots, and its position (len if not one)
    leader: np.ndarray  # bool per council: in a leading pilot area (its example weighs more)


@cache
def _groups_of(councils: tuple[Authority, ...]) -> _Groups:
    def members(labels: list[str]) -> tuple[Members, ...]:
        groups = {label: tuple(group.tolist()) for label, group in _groups(labels).items()}
        position = {i: k for group in groups.values() for k, i in enumerate(group)}
        return tuple((groups[label], position[i]) for i, label in enumerate(labels))

    pilots = tuple(i for i, c in enumerate(councils) if c.pilot_area)
    pilot_position = {i: k for k, i in enumerate(pilots)}
    return _Groups(
        region=members([c.region for c in councils]),
        type=members([c.type for c in councils]),
        pilots=tuple((pilots, pilot_position.get(i, len(pilots))) for i in range(len(councils))),
        leader=np.array([c.pilot_area in LEADER_AREAS for c in councils]),
    )


def build_peer_network(
    councils: tuple[Authority, ...],
    rng: np.random.Generator,
    region_links: int,
    type_links: int,
    champion_links: int,
    leader_weight: float,
) -> PeerNetwork:
    """Draw the peer network for `councils` (nodes are their indices) from `rng`.

    Each council in turn links to `region_links` others of its region, then `type_links` of
    its type; then each in turn links to `champion_links` pilots.
    """
    n = len(councils)
    plan = _link_plan(councils, region_links, type_links, champion_links)
    base_parts, champion_parts = [np.empty(0, dtype=np.int64)], [np.empty(0, dtype=np.int64)]
    for group, picked in plan.samples.sample(rng):
        asks = group.requests
        # the k-th other member of a group is member k, or k + 1 from the council's own place
        members = plan.members[
            plan.offset[asks, None] + picked + (picked >= plan.position[asks, None])
        ]
        askers = plan.asker[asks, None]
        codes = np.minimum(askers, members) * n + np.maximum(askers, members)
        champion = plan.champion[asks]
        base_parts.append(codes[~champion].ravel())
        champion_parts.append(codes[champion].ravel())
    base_codes = _sorted_unique(np.concatenate(base_parts))
    champion_codes = _sorted_unique(np.concatenate(champion_parts))
    champion_codes = champion_codes[~_contains(base_codes, champion_codes)]
    weights = np.where(plan.leader, leader_weight, 1.0)
    peer_links = _pairs(base_codes, n)
    peers = _influence(n, peer_links, weights)
    both = _influence(n, _pairs(np.sort(np.concatenate([base_codes, champion_codes])), n), weights)
    return PeerNetwork(n, peer_links, _pairs(champion_codes, n), peers, both)


def _groups(labels: list[str]) -> dict[str, np.ndarray]:
    groups: dict[str, list[int]] = {}
    for i, label in enumerate(labels):
        groups.setdefault(label, []).append(i)
    return {k: np.array(v, dtype=np.int64) for k, v in groups.items()}


@dataclass(frozen=True)
class _LinkPlan:
    """The network's draws, planned once per process for a set of councils and link counts.

    Ask r is council `asker[r]` drawing others of a group: region then type for each
    council in turn, then champions for each council in turn (the order of the draws).
    Only asks that draw something are kept; `members[offset[r]:]` is the group's members
    and `position[r]` the asker's own place in it (the group's size if not a member).
    """

    samples: SamplePlan
    leader: np.ndarray  # bool per council: in a leading pilot area (its example weighs more)
    asker: np.ndarray
    champion: np.ndarray  # bool: a link to a pilot champion
    offset: np.ndarray
    position: np.ndarray
    members: np.ndarray


_PLANS: dict[tuple[int, int, int, int], tuple[tuple[Authority, ...], _LinkPlan]] = {}


def _link_plan(
    councils: tuple[Authority, ...], region_links: int, type_links: int, champion_links: int
) -> _LinkPlan:
    """The plan for these councils and link counts, made on first use.

    Looked up by the councils tuple's identity (it is a cached object): hashing 152 frozen
    dataclasses on every run would cost more than the lookup saves.
    """
    key = (id(councils), region_links, type_links, champion_links)
    held = _PLANS.get(key)
    if held is None or held[0] is not councils:
        held = _PLANS[key] = (councils, _new_link_plan(councils, *key[1:]))
    return held[1]


def _new_link_plan(
    councils: tuple[Authority, ...], region_links: int, type_links: int, champion_links: int
) -> _LinkPlan:
    groups = _groups_of(councils)
    n = len(councils)
    asks = [
        ask
        for i in range(n)
        for ask in (
            (i, False, *groups.region[i], region_links),
            (i, False, *groups.type[i], type_links),
        )
    ]
    asks += [(i, True, *groups.pilots[i], champion_links) for i in range(n)]
    offsets: dict[tuple[int, ...], int] = {}
    members: list[int] = []
    kept, requests = [], []
    for i, champion, group, position, k in asks:
        others = len(group) - (position < len(group))
        if k <= 0 or others == 0:
            continue
        if group not in offsets:
            offsets[group] = len(members)
            members += group
        kept.append((i, champion, offsets[group], position))
        requests.append((others, min(k, others)))
    columns = list(zip(*kept, strict=True)) or [(), (), (), ()]
    return _LinkPlan(
        SamplePlan(requests),
        groups.leader,
        np.array(columns[0], dtype=np.int64),
        np.array(columns[1], dtype=bool),
        np.array(columns[2], dtype=np.intp),
        np.array(columns[3], dtype=np.int64),
        np.array(members, dtype=np.int64),
    )


def _sorted_unique(values: np.ndarray) -> np.ndarray:
    """np.unique for a small int array (sorting beats numpy's hash table at this size)."""
    values = np.sort(values)
    return values[np.concatenate([[True], values[1:] != values[:-1]])] if values.size else values


def _contains(sorted_values: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Whether each of `values` is in `sorted_values` (sorted, distinct)."""
    if not sorted_values.size:
        return np.zeros(values.shape, dtype=bool)
    at = np.minimum(np.searchsorted(sorted_values, values), sorted_values.size - 1)
    return sorted_values[at] == values


def _pairs(codes: np.ndarray, n: int) -> np.ndarray:
    """Coded links back to a (k, 2) array of (low, high) pairs, in the codes' order."""
    return np.stack([codes // n, codes % n], axis=1)


def _influence(n: int, edges: np.ndarray, weights: np.ndarray) -> Influence:
    """Row i holds the weight of each neighbour j's example on i, rows summing to 1.

    The numbers and their order are those of ``sparse.diags(1 / totals) @ matrix`` where
    ``matrix = sparse.csr_matrix((weights[cols], (rows, cols)))`` (columns ascending in each
    row) and ``totals = matrix.sum(axis=1)`` (np.add.reduceat over each row's entries); the
    product stores each row's entries in reverse. See tests/test_fast_paths.py.
    """
    if not len(edges):
        empty = np.empty(0, dtype=np.intp)
        return Influence(n, empty, empty, np.empty(0))
    a, b = edges.T
    rows = np.concatenate([a, b])
    cols = np.concatenate([b, a])
    order = np.argsort(rows * n + cols)  # distinct keys: CSR order, row then column ascending
    rows = rows[order].astype(np.intp)
    cols = cols[order].astype(np.intp)
    data = weights[cols]
    degree = np.bincount(rows, minlength=n)
    starts = np.cumsum(degree) - degree
    totals = np.zeros(n)
    linked = degree > 0
    totals[linked] = np.add.reduceat(data, starts[linked])
    totals[totals == 0] = 1.0
    # Entry p of row r moves to the mirror position in its row: reversing each row.
    mirror = 2 * starts[rows] + degree[rows] - 1 - np.arange(rows.size)
    return Influence(n, rows, cols[mirror], (1.0 / totals)[rows] * data[mirror])


@cache
def map_layout(councils: tuple[Authority, ...]) -> dict[int, tuple[float, float]]:
    """A map-like position for each council: a small sunflower around its region's centre."""
    positions: dict[int, tuple[float, float]] = {}
    for region, members in _groups([c.region for c in councils]).items():
        cx, cy = REGION_CENTRES.get(region, (0.5, 0.5))
        for k, i in enumerate(members):
            radius = 0.022 * math.sqrt(k)
            angle = k * 2.399963  # golden angle
            positions[int(i)] = (cx + radius * math.cos(angle), cy + radius * math.sin(angle))
    return positions
