"""Topology pictures and files: JSON, Graphviz DOT, SVG (written here) and
PNG (pillow, render_png.py), chosen by the output file's extension. Both
pictures are drawn on drawing.py's layout.
"""
import json
import os
from xml.sax.saxutils import escape

from nowmesh.errors import InputError
from nowmesh.query.drawing import RADIUS, edges, label_point, layout, link_label, link_path

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
