"""The topology as a PNG picture, drawn with pillow on render.py's layout."""
from PIL import Image, ImageDraw, ImageFont

from nowmesh.query.render import RADIUS, edges, layout, link_label

_LINK, _WEAK, _TEXT, _GREY = (51, 102, 153), (153, 153, 153), (0, 0, 0), (102, 102, 102)


def _dashed(draw, start, end, fill, dash=6, gap=4):
    (x1, y1), (x2, y2) = start, end
    length = max(1.0, ((x2 - x1) ** 2 + (y2 - y1) ** 2) ** 0.5)
    step = 0.0
    while step < length:
        a, b = step / length, min(step + dash, length) / length
        draw.line([(x1 + (x2 - x1) * a, y1 + (y2 - y1) * a), (x1 + (x2 - x1) * b, y1 + (y2 - y1) * b)],
                  fill=fill, width=2)
        step += dash + gap


def _centred(draw, xy, text, font, fill):
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    draw.text((xy[0] - (right - left) / 2, xy[1] - (bottom - top) / 2), text, font=font, fill=fill)


def write_png(topology, path):
    positions, width, height = layout(topology)
    image = Image.new("RGB", (int(width), int(height)), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default()
    for link, weak in edges(topology):
        a, b = positions[link["a"]], positions[link["b"]]
        if weak:
            _dashed(draw, a, b, _WEAK)
        else:
            draw.line([a, b], fill=_LINK, width=2)
        _centred(draw, ((a[0] + b[0]) / 2, (a[1] + b[1]) / 2 - 10), link_label(link), font,
                 _WEAK if weak else _LINK)
    for n in topology["nodes"]:
        x, y = positions[n["name"]]
        fill = (204, 229, 255) if n.get("local") else ((255, 255, 255) if n.get("answered", True) else (238, 238, 238))
        draw.ellipse([x - RADIUS, y - RADIUS, x + RADIUS, y + RADIUS], fill=fill, outline=(51, 51, 51), width=2)
        _centred(draw, (x, y), n["name"], font, _TEXT)
        _centred(draw, (x, y + RADIUS + 10), n["id"], font, _GREY)
    image.save(path, format="PNG")
