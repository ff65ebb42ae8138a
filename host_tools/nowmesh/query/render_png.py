"""The topology as a PNG picture, drawn with pillow on drawing.py's layout."""
from PIL import Image, ImageDraw, ImageFont

from nowmesh.query.drawing import RADIUS, edges, label_point, layout, link_label, link_path

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


def _centred(draw, xy, text, font, fill, backdrop=None):
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    x, y = xy[0] - (right - left) / 2, xy[1] - (bottom - top) / 2
    if backdrop is not None:     # keep a label readable where it crosses a line
        draw.rectangle([x - 2, y + top - 1, x + right - left + 2, y + bottom + 1], fill=backdrop)
    draw.text((x, y), text, font=font, fill=fill)


def write_png(topology, path):
    positions, width, height = layout(topology)
    image = Image.new("RGB", (int(width), int(height)), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default()
    for link, weak in edges(topology):
        points = link_path(positions[link["a"]], positions[link["b"]])
        for start, end in zip(points, points[1:]):
            if weak:
                _dashed(draw, start, end, _WEAK)
            else:
                draw.line([start, end], fill=_LINK, width=2)
        x, y = label_point(points)
        _centred(draw, (x, y - 4), link_label(link), font, _WEAK if weak else _LINK, backdrop=(255, 255, 255))
    for n in topology["nodes"]:
        x, y = positions[n["name"]]
        fill = (204, 229, 255) if n.get("local") else ((255, 255, 255) if n.get("answered", True) else (238, 238, 238))
        draw.ellipse([x - RADIUS, y - RADIUS, x + RADIUS, y + RADIUS], fill=fill, outline=(51, 51, 51), width=2)
        _centred(draw, (x, y), n["name"], font, _TEXT)
        _centred(draw, (x, y + RADIUS + 10), n["id"], font, _GREY)
    image.save(path, format="PNG")
