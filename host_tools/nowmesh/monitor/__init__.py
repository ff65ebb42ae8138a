"""`nowmesh monitor`: the whole mesh through one node (docs/monitor.md).

- model.MeshState: mesh state from records (console events, polls, replies); no I/O;
- link.MonitorLink: the serial port thread (polls, replies by id, reconnects);
- session.MonitorSession: link -> model, SQLite log, --json output;
- store.MonitorLog: the SQLite log (schema versioned); export reads it;
- app.MonitorApp: the textual dashboard.
"""
