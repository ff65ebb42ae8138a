"""Errors the host tools report to users as one clear line (exit code 2)."""


class InputError(Exception):
    """Bad user input: a file, a field in it, or a command-line value.

    `source` names the file (or "command line"), `field` the offending field
    (dotted/indexed path such as ``events[2].t``), and the message says what
    is wrong in words a user can act on.
    """

    def __init__(self, source, field, message):
        self.source = source
        self.field = field
        self.message = message
        where = source if not field else "%s: %s" % (source, field)
        super().__init__("%s: %s" % (where, message))


class ToolError(Exception):
    """A failure the user can act on (port missing, node not answering): exit 1."""

    exit_code = 1
