"""Talking to a nowmesh node over its serial console (docs/console-protocol.md)."""
from nowmesh.console.client import ConsoleClient, ConsoleError, PortError  # noqa: F401
from nowmesh.console.protocol import PROTO, parse_line, parse_command_text  # noqa: F401
