"""Topology pictures and files: JSON, Graphviz DOT, SVG (written here) and
PNG (pillow), chosen by the output file's extension.

The layout is deterministic and needs no graph library: nodes stand in
columns by their distance in links from the connected node (breadth-first
over the good links, then the weak ones), top to bottom by name within a
column. A line of nodes comes out as a row; a grid as diagonal bands.
"""
import json
import os
from collections import deque
from xml.sax.saxutils import escape

from nowmesh.errors import InputError

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


def to_json(topology):
    return json.dumps(topology, indent=2, sort_keys=True) + "\n"


def _dot_quote(text):
    return '"%s"' % str(text).replace("\\", "\\\\").replace('"', '\\"')


def to_dot(topology):
    lines = ["graph nowmesh {", '  node [shape=circle, fontname="Helvetica"];',
             '  edge [fontname="Helvetica", fontsize=10];']
    for n in topology["nodes"]:
        extra = ", style=filled, fillcolor=lightblue" if n.get("local") else ""
        lines.append("  %s [label=%s%s];" % (_dot_quote(n["name"]), _dot_quote("%s\n%s" % (n["name"], n["id"])), extra))
    for link, weak in edges(topology):
        style = ", style=dashed, color=gray" if weak else ""
        lines.append("  %s -- %s [label=%s%s];" % (_dot_quote(link["a"]), _dot_quote(link["b"]),
                                                  _dot_quote(link_label(link)), style))
    lines.append("}")
    return "\n".join(lines) + "\n"


def to_svg(topology):
    positions, width, height = layout(topology)
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           '<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" '
           'font-family="Helvetica, Arial, sans-serif">' % (width, height, width, height),
           '<rect width="100%" height="100%" fill="white"/>']
    for link, weak in edges(topology):
        points = link_path(positions[link["a"]], positions[link["b"]])
        dash = ' stroke-dasharray="6,4"' if weak else ""
        colour = "#999999" if weak else "#336699"
        out.append('<polyline class="link" points="%s" fill="none" stroke="%s" stroke-width="2"%s/>'
                   % (" ".join("%.1f,%.1f" % p for p in points), colour, dash))
        x, y = label_point(points)
        out.append('<text class="link-label" x="%.1f" y="%.1f" font-size="11" text-anchor="middle" fill="%s" '
                   'stroke="white" stroke-width="3" paint-order="stroke">%s</text>'
                   % (x, y, colour, escape(link_label(link))))
    for n in topology["nodes"]:
        x, y = positions[n["name"]]
        fill = "#cce5ff" if n.get("local") else ("#ffffff" if n.get("answered", True) else "#eeeeee")
        out.append('<circle class="node" cx="%.1f" cy="%.1f" r="%d" fill="%s" stroke="#333333" stroke-width="2"/>'
                   % (x, y, RADIUS, fill))
        out.append('<text class="node-label" x="%.1f" y="%.1f" font-size="13" text-anchor="middle">%s</text>'
                   % (x, y + 4, escape(n["name"])))
        out.append('<text x="%.1f" y="%.1f" font-size="9" text-anchor="middle" fill="#666666">%s</text>'
                   % (x, y + RADIUS + 13, escape(n["id"])))
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _write_text(render):
    def write(topology, path):
        with open(path, "w", encoding="utf-8") as out:
            out.write(render(topology))
    return write


def _write_png(topology, path):
    from nowmesh.query.render_png import write_png   # pillow only when a PNG is asked for
    write_png(topology, path)


def write(topology, path):
    """Write the topology to `path` in the format its extension names. The
    file appears complete or not at all (a temporary file, then a rename)."""
    writer = writer_for(path)
    tmp = "%s.tmp%d" % (path, os.getpid())
    try:
        writer(topology, tmp)
        os.replace(tmp, path)
    except OSError as exc:
        raise InputError("command line", "--out", "cannot write %s: %s" % (path, exc.strerror or exc)) from None
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


WRITERS = {".json": _write_text(to_json), ".dot": _write_text(to_dot), ".gv": _write_text(to_dot),
           ".svg": _write_text(to_svg), ".png": _write_png}


def writer_for(path):
    """The writer for a file name's extension; InputError for any other."""
    ext = os.path.splitext(path)[1].lower()
    writer = WRITERS.get(ext)
    if writer is None:
        raise InputError("command line", "--out", "%r: the file name must end in %s"
                         % (path, ", ".join(sorted(WRITERS))))
    return writer
