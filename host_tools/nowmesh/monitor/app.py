"""The monitor's terminal dashboard (textual): a view over MonitorSession's model.

Keys: p ping the selected node, s its status, r poll now, q (or Ctrl-C) quit. The view
never talks to the port: it drains the session on a timer and redraws from
the model, so tests drive it with a recorded link and textual's pilot.
"""
import time

from rich.markup import escape
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Footer, Header, RichLog, Static

NODE_COLUMNS = ("name", "id", "hops", "last heard", "link RSSI", "uptime", "free heap")
READING_COLUMNS = ("node", "reading", "value", "unit", "age")
LINK_STYLE = {"connected": "green", "reconnecting": "yellow", "disconnected": "red", "silent": "yellow", "error": "red",
              "mismatch": "red", "starting": "white"}


def _cell(value, suffix=""):
    # Table cells and the link line are rich markup: a node's words ("[/]" as a
    # name) are escaped, so they show as written and cannot break the view.
    return "-" if value is None else escape("%s%s" % (value, suffix))


def _value(value):
    # Nodes send float32 values (21.399999618530273): 6 significant digits is what they hold.
    if isinstance(value, float):
        return "%.6g" % value
    return _cell(value)


def _age(seconds):
    if seconds is None:
        return "-"
    if seconds < 120:
        return "%ds" % seconds
    if seconds < 7200:
        return "%dm" % (seconds // 60)
    return "%dh" % (seconds // 3600)


def _duration(seconds):
    if seconds is None:
        return "-"
    hours, rest = divmod(int(seconds), 3600)
    return "%d:%02d:%02d" % (hours, rest // 60, rest % 60)


class MonitorApp(App):
    TITLE = "nowmesh monitor"
    CSS = """
    #link { height: 1; padding: 0 1; }
    #nodes { height: 1fr; }
    #lower { height: 1fr; }
    #readings { width: 1fr; }
    #events { width: 1fr; border-left: solid $accent; }
    """
    BINDINGS = [("p", "ping", "ping node"), ("s", "status", "node status"),
                ("r", "refresh", "poll now"), ("q", "quit", "quit"),
                # A monitor is a terminal tool: Ctrl-C quits, as everywhere else in nowmesh.
                Binding("ctrl+c", "quit", "quit", show=False, priority=True)]

    def __init__(self, session, clock=time.time, refresh_s=0.25, seconds=None):
        super().__init__()
        self.seconds = seconds
        self.session = session
        self.clock = clock
        self.refresh_s = refresh_s
        self._drawn_version = None
        self._drawn_second = None
        self._events_shown = 0

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("link: starting", id="link")
        yield DataTable(id="nodes", cursor_type="row", zebra_stripes=True)
        with Horizontal(id="lower"):
            yield DataTable(id="readings", cursor_type="none")
            yield RichLog(id="events", max_lines=500, wrap=False)
        yield Footer()

    def on_mount(self):
        self.query_one("#nodes", DataTable).add_columns(*NODE_COLUMNS)
        self.query_one("#readings", DataTable).add_columns(*READING_COLUMNS)
        self.session.link.start()
        self.set_interval(self.refresh_s, self.tick)
        if self.seconds is not None:
            self.set_timer(self.seconds, self.exit)
        self.tick()

    def on_unmount(self):
        self.session.close()

    # -- drawing ------------------------------------------------------------------
    def tick(self):
        self.session.drain()
        now = self.clock()
        model = self.session.model
        if model.version == self._drawn_version and int(now) == self._drawn_second:
            return
        self._drawn_version, self._drawn_second = model.version, int(now)
        self._draw_link(model)
        self._draw_nodes(model, now)
        self._draw_readings(model, now)
        self._draw_events(model)

    def _draw_link(self, model):
        link = model.link
        state = link.get("state") or "starting"
        text = "[%s]%s[/] %s" % (LINK_STYLE.get(state, "white"), escape(state), _cell(link.get("port") or ""))
        if link.get("detail"):
            text += " - %s" % _cell(link["detail"])
        if model.local_id:
            text += "   node %s, nowmesh %s" % (_cell(model.name_of(model.local_id)), _cell(model.local.get("fw")))
        if model.garbage:
            text += "   [yellow]%d garbage line(s)[/]" % model.garbage
        self.query_one("#link", Static).update(text)

    def _draw_nodes(self, model, now):
        table = self.query_one("#nodes", DataTable)
        selected = self.selected_node()
        table.clear()
        for row in model.node_rows(now):
            table.add_row(_cell(row["name"] + (" *" if row["local"] else "")), _cell(row["id"]), _cell(row["hops"]),
                          _age(row["last_heard_s"]), _cell(row["rssi"], " dBm"), _duration(row["uptime_s"]),
                          _cell(row["heap_free"]), key=row["id"])
        if selected is not None and selected in model.nodes:
            table.move_cursor(row=table.get_row_index(selected))

    def _draw_readings(self, model, now):
        table = self.query_one("#readings", DataTable)
        table.clear()
        for node, name, value, unit, age in model.reading_rows(now):
            table.add_row(_cell(node), _cell(name), _value(value), _cell(unit or ""), _age(age))

    def _draw_events(self, model):
        log = self.query_one("#events", RichLog)
        # The model keeps the last N; write only the ones new since the last draw.
        fresh = min(len(model.events), model.events_total - self._events_shown)
        for t, text in list(model.events)[len(model.events) - fresh:]:
            log.write("%s %s" % (time.strftime("%H:%M:%S", time.localtime(t or 0)), text))
        self._events_shown = model.events_total

    # -- actions ------------------------------------------------------------------
    def selected_node(self):
        table = self.query_one("#nodes", DataTable)
        if table.row_count == 0:
            return None
        try:
            return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        except Exception:         # noqa: BLE001 -- no valid cursor yet
            return None

    def action_ping(self):
        node = self.selected_node()
        model = self.session.model
        if node is None or node == model.local_id:
            self.notify("select another node to ping", severity="warning")
            return
        self.session.link.request("ping", {"node": node})
        self.notify("ping %s ..." % model.name_of(node))

    def action_status(self):
        node = self.selected_node()
        if node is None:
            return
        remote = None if node == self.session.model.local_id else node
        self.session.link.request("status", None, remote)
        self.notify("status of %s ..." % self.session.model.name_of(node))

    def action_refresh(self):
        self.session.link.poll_now()
