"""Talking to a nowmesh node over its serial console (docs/console-protocol.md).

`Connection` (console/connection.py) is the protocol without I/O: bytes in,
typed events out, requests with ids, pages and deadlines. `ConsoleClient`
(console/client.py) drives it over a pyserial port; every tool uses these two.
"""
from nowmesh.console.client import ConsoleClient, ConsoleError, PortError, open_port  # noqa: F401
from nowmesh.console.connection import (  # noqa: F401
    Banner, Connection, Crash, Event, Hello, Mismatch, NoAnswer, NodeEvent, Output, Prompt, Reply,
    Request, Unmatched)
from nowmesh.console.protocol import PROTO, parse_line, parse_command_text  # noqa: F401
