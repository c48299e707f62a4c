"""The councils' peer network: who looks at whom when deciding to pool.

Links join councils in the same region and of the same type (Berry & Berry's neighbours,
Walker's cue-givers); links from regional leaders weigh more. A second set of links joins
councils to pilot "champions", used only while the champions network runs. The graph is
drawn from the model's rng, so the same seed gives the same network.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import networkx as nx
import numpy as np
from scipy import sparse

from cbsim.reference import Authority

LEADER_AREAS = frozenset({"Greater Manchester", "West London", "Essex"})

# Rough geographic centres of the nine English regions (x east, y north), for a map-like layout.
REGION_CENTRES = {
    "North East": (0.62, 0.92), "North West": (0.36, 0.80),
    "Yorkshire and the Humber": (0.64, 0.74), "West Midlands": (0.40, 0.52),
    "East Midlands": (0.62, 0.55), "East of England": (0.88, 0.44),
    "London": (0.74, 0.28), "South East": (0.80, 0.10), "South West": (0.22, 0.16),
}


@dataclass(frozen=True)
class PeerNetwork:
    """The peer graph and its row-normalised influence matrices."""

    graph: nx.Graph
    peers: sparse.csr_matrix  # region and type links
    with_champions: sparse.csr_matrix  # the same plus links to pilot champions


def build_peer_network(
    councils: tuple[Authority, ...],
    rng: np.random.Generator,
    region_links: int,
    type_links: int,
    champion_links: int,
    leader_weight: float,
) -> PeerNetwork:
    """Draw the peer network for `councils` (nodes are their indices) from `rng`."""
    n = len(councils)
    by_region = _groups([c.region for c in councils])
    by_type = _groups([c.type for c in councils])
    pilots = np.array([i for i, c in enumerate(councils) if c.pilot_area], dtype=np.int64)
    base = set()
    for i, council in enumerate(councils):
        for group, k in ((by_region[council.region], region_links),
                         (by_type[council.type], type_links)):
            for j in _draw_others(rng, group, i, k):
                base.add((min(i, j), max(i, j)))
    champion = set()
    for i in range(n):
        for j in _draw_others(rng, pilots, i, champion_links):
            if (min(i, j), max(i, j)) not in base:
                champion.add((min(i, j), max(i, j)))
    leader = np.array([c.pilot_area in LEADER_AREAS for c in councils])
    weights = np.where(leader, leader_weight, 1.0)
    graph = nx.Graph()
    graph.add_nodes_from(range(n))
    graph.add_edges_from(sorted(base), kind="peer")
    graph.add_edges_from(sorted(champion), kind="champion")
    peers = _influence(n, sorted(base), weights)
    both = _influence(n, sorted(base | champion), weights)
    return PeerNetwork(graph, peers, both)


def _groups(labels: list[str]) -> dict[str, np.ndarray]:
    groups: dict[str, list[int]] = {}
    for i, label in enumerate(labels):
        groups.setdefault(label, []).append(i)
    return {k: np.array(v, dtype=np.int64) for k, v in groups.items()}


def _draw_others(rng: np.random.Generator, group: np.ndarray, i: int, k: int) -> np.ndarray:
    others = group[group != i]
    if k <= 0 or others.size == 0:
        return others[:0]
    return rng.choice(others, size=min(k, others.size), replace=False)


def _influence(n: int, edges: list[tuple[int, int]], weights: np.ndarray) -> sparse.csr_matrix:
    """Row i holds the weight of each neighbour j's example on i, rows summing to 1."""
    if not edges:
        return sparse.csr_matrix((n, n))
    a, b = np.array(edges).T
    rows = np.concatenate([a, b])
    cols = np.concatenate([b, a])
    matrix = sparse.csr_matrix((weights[cols], (rows, cols)), shape=(n, n))
    totals = np.asarray(matrix.sum(axis=1)).ravel()
    totals[totals == 0] = 1.0
    return sparse.diags(1.0 / totals) @ matrix


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
