"""Human-readable text for the one-shot commands' results (their --json
documents): tables with columns chosen by table, not by if-chains."""
import json


def _dash(value):
    return "-" if value is None else str(value)


def _age(seconds):
    return "-" if seconds is None else "%ss ago" % seconds


def _etx(cost):
    return "-" if cost is None else ("unusable" if cost >= 255 else "%.2f" % (cost / 8.0))


def _dbm(rssi):
    return "-" if rssi is None else "%s dBm" % rssi


def by_name(rows):
    return sorted(rows, key=lambda r: (r.get("name") or "~", r.get("id") or ""))


def table(rows, columns):
    """rows: dicts; columns: [(title, function of a row -> str)] -> aligned text."""
    cells = [[title for title, _ in columns]] + [[fn(row) for _, fn in columns] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip() for line in cells)


def _named(key, names):
    return lambda row: names.get(row.get(key)) or _dash(row.get(key))


NODE_COLUMNS = [
    ("name", lambda r: _dash(r["name"]) + (" *" if r.get("local") else "")),
    ("id", lambda r: r["id"]),
    ("hops", lambda r: _dash(r["hops"])),
    ("last heard", lambda r: _age(r["last_heard_s"])),
    ("link", lambda r: _dbm(r["rssi"])),
    ("ETX", lambda r: _etx(r["cost"])),
    ("uptime", lambda r: "-" if r["uptime_s"] is None else "%ss" % r["uptime_s"]),
    ("heap free", lambda r: _dash(r["heap_free"])),
]


def nodes_text(doc):
    names = {n["id"]: n["name"] for n in doc["nodes"]}
    columns = NODE_COLUMNS[:4] + [("next hop", _named("next_hop", names))] + NODE_COLUMNS[4:]
    return table(doc["nodes"], columns) + "\n(* = %s, the node on this port)" % doc["node"]


def neighbours_text(doc):
    return table(by_name(doc["neighbours"]), [
        ("name", lambda r: _dash(r.get("name"))), ("id", lambda r: r["id"]),
        ("rssi", lambda r: _dbm(r.get("rssi"))), ("ETX", lambda r: _etx(r.get("cost"))),
        ("last heard", lambda r: _age(r.get("age_s")))])


def routes_text(doc):
    names = {r["id"]: r.get("name") for r in doc["routes"]}   # next hops are destinations too
    return table(by_name(doc["routes"]), [
        ("to", lambda r: r.get("name") or r["id"]), ("next hop", _named("next_hop", names)),
        ("hops", lambda r: _dash(r.get("hops"))), ("metric", lambda r: _dash(r.get("metric"))),
        ("link rssi", lambda r: _dbm(r.get("rssi"))), ("link ETX", lambda r: _etx(r.get("cost")))])


def _values(reading):
    return " ".join("%s=%s%s" % (n, round(v, 2) if isinstance(v, float) else v, u)
                    for n, v, u in reading.get("values") or ())


def readings_text(doc):
    return table(by_name(doc["readings"]), [
        ("name", lambda r: r.get("name") or r["id"]), ("seq", lambda r: _dash(r.get("seq"))),
        ("age", lambda r: "-" if r.get("age_s") is None else "%ss" % r["age_s"]), ("values", _values)])


def ping_text(doc):
    if not doc["ok"]:
        return "%s (%s): no answer: %s" % (doc["node"], doc["id"], doc.get("error"))
    return "%s (%s): %s ms, %s hops" % (doc["node"], doc["id"], doc["rtt_ms"], doc["hops"])


def trace_text(doc):
    lines = ["trace to %s (%s)" % (doc["node"], doc["id"])]
    for i, hop in enumerate(doc["path"], 1):
        lines.append("%2d  %-10s -> %-10s  rssi %-8s ETX %-6s (%s ms)" % (
            i, hop["from"], hop["to"], _dbm(hop["rssi"]), _etx(hop["cost"]), _dash(hop.get("ms"))))
    lines.append("reached in %d hops" % doc["hops"] if doc["ok"] else "stopped: %s" % doc.get("error"))
    return "\n".join(lines)


def mapping_text(data):
    if not isinstance(data, dict):
        return json.dumps(data)
    return "\n".join("%s: %s" % (k, v if isinstance(v, str) else json.dumps(v)) for k, v in sorted(data.items()))


def status_text(doc):
    return mapping_text(doc)


def config_text(doc):
    return mapping_text(doc["config"])


def config_set_text(doc):
    note = "; takes effect after a reboot (nowmesh reboot)" if doc.get("reboot_needed") else ""
    return "%s: %s = %s saved%s" % (doc["node"], doc["field"], json.dumps(doc["value"]), note)


def send_text(doc):
    return "%s (%s): delivered" % (doc["node"], doc["id"])


def reboot_text(doc):
    return "%s is rebooting" % doc["node"]


def app_command_text(doc):
    return "%s: %s %s -> %s" % (doc["node"], doc["command"], " ".join(doc["args"]), json.dumps(doc["result"]))
