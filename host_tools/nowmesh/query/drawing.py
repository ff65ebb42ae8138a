"""Where a topology picture puts things, for the SVG and the PNG alike.

The layout is deterministic and needs no graph library: nodes stand in
columns by their distance in links from the connected node (breadth-first
over the good links, then the weak ones), top to bottom by name within a
column. A line of nodes comes out as a row; a grid as diagonal bands.
"""
from collections import deque

COLUMN_W, ROW_H, MARGIN, RADIUS = 170, 110, 70, 26


def link_label(link):
    rssi = "%s dBm" % link["rssi"] if link.get("rssi") is not None else "? dBm"
    etx = "ETX %.1f" % link["etx"] if link.get("etx") is not None else "ETX ?"
    return "%s, %s" % (rssi, etx)


def _depths(names, links, depth):
    """Breadth-first distances over `links`, extending `depth` in place."""
    adjacent = {name: [] for name in names}
    for link in links:
        if link["a"] in adjacent and link["b"] in adjacent:
            adjacent[link["a"]].append(link["b"])
            adjacent[link["b"]].append(link["a"])
    queue = deque(sorted(depth, key=depth.get))
    while queue:
        here = queue.popleft()
        for there in sorted(adjacent[here]):
            if there not in depth:
                depth[there] = depth[here] + 1
                queue.append(there)


def _columns(topology):
    names = [n["name"] for n in topology["nodes"]]
    start = next((n["name"] for n in topology["nodes"] if n.get("local")), names[0] if names else None)
    depth = {start: 0} if start is not None else {}
    _depths(names, topology["links"], depth)                    # the good links shape the picture,
    _depths(names, topology.get("weak_links", []), depth)       # weak ones only place the rest
    last = max(depth.values(), default=-1) + 1
    columns = {}
    for name in sorted(names):
        columns.setdefault(depth.get(name, last), []).append(name)   # unlinked nodes: a last column
    return columns


def layout(topology):
    """-> ({name: (x, y)}, width, height) in pixels."""
    columns = _columns(topology)
    tallest = max((len(c) for c in columns.values()), default=1)
    height = 2 * MARGIN + (tallest - 1) * ROW_H
    positions = {}
    for index, col in enumerate(sorted(columns)):
        members = columns[col]
        top = (height - (len(members) - 1) * ROW_H) / 2
        for row, name in enumerate(members):
            positions[name] = (MARGIN + index * COLUMN_W, top + row * ROW_H)
    width = 2 * MARGIN + (len(columns) - 1) * COLUMN_W if columns else 2 * MARGIN
    return positions, width, height


def edges(topology):
    """(link, weak?) for every link between drawable nodes."""
    return [(l, False) for l in topology["links"]] + [(l, True) for l in topology.get("weak_links", [])]


def link_path(a, b):
    """Points to draw a link along: straight between neighbouring columns;
    a link that skips columns bows upwards so it does not run through the
    nodes between (a quadratic curve as 12 segments)."""
    (x1, y1), (x2, y2) = a, b
    if abs(x2 - x1) <= COLUMN_W * 1.01:
        return [a, b]
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2 - min(0.35 * abs(x2 - x1), 110)   # peak <= 55 px up: inside the margin
    points = []
    for i in range(13):
        t = i / 12.0
        points.append(((1 - t) ** 2 * x1 + 2 * t * (1 - t) * cx + t * t * x2,
                       (1 - t) ** 2 * y1 + 2 * t * (1 - t) * cy + t * t * y2))
    return points


def label_point(points):
    """Where a link's label goes: the middle of its path, a little above."""
    if len(points) == 2:
        (x1, y1), (x2, y2) = points
        return (x1 + x2) / 2, (y1 + y2) / 2 - 6
    x, y = points[len(points) // 2]
    return x, y - 6
