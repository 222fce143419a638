"""Which camera runs on which node. Pure functions, so the rule is testable and documented.

A node offers ``capacity`` camera slots (its ``oversight_worker`` Ray resource). Cameras already on
a live node stay there (moving a camera costs a recording gap); the others go, in camera-id order,
to the live node with the most free slots (ties: fewest cameras, then node id), so the result is
deterministic and balanced. Cameras that do not fit are left unassigned (reported, not dropped).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping


def assign_cameras(
    cameras: Iterable[str], capacity: Mapping[str, int], current: Mapping[str, str] | None = None
) -> tuple[dict[str, str], list[str]]:
    """Returns ({camera: node}, [cameras that fit nowhere])."""
    current = current or {}
    load: dict[str, int] = {n: 0 for n in capacity}
    out: dict[str, str] = {}
    pending: list[str] = []
    for cam in sorted(set(cameras)):
        node = current.get(cam)
        if node is not None and node in capacity and load[node] < capacity[node]:
            out[cam] = node
            load[node] += 1
        else:
            pending.append(cam)
    unplaced: list[str] = []
    for cam in pending:
        free = [n for n in capacity if load[n] < capacity[n]]
        if not free:
            unplaced.append(cam)
            continue
        node = min(free, key=lambda n: (-(capacity[n] - load[n]), load[n], n))
        out[cam] = node
        load[node] += 1
    return out, unplaced
