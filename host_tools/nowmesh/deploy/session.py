"""One deploy to one board: probe, plan, stage, commit, reset, confirm.

    result = deploy_board("/dev/ttyUSB0", DeployOptions(name="kitchen"))
    result["files_sent"], result["bytes_sent"], result["seconds"]

See docs/deploy.md for what goes over the wire and why it is safe to unplug
the board at any moment.
"""
import time

from nowmesh import boards
from nowmesh.boards import board_file_bytes
from nowmesh.console.client import open_port
from nowmesh.console.protocol import answer_problem, format_command, parse_line
from nowmesh.deploy import build, device, fastpath
from nowmesh.deploy.config import (DEFAULT_KEY_FILE, admin_fields, check_config, config_bytes,
                                   default_name, load_or_create_key, load_or_create_operator_key,
                                   mac_admin_id, node_config, operator_key_file_beside, parse_existing)
from nowmesh.deploy.plan import make_plan
from nowmesh.deploy.rawrepl import DeviceError, DeviceGone, RawRepl
from nowmesh.errors import InputError, ToolError

CONFIG = "nowmesh.json"
BOARD_FILE = boards.BOARD_FILE


class DeployOptions:
    def __init__(self, name=None, channel=None, board=None, key_file=DEFAULT_KEY_FILE,
                 baud=115200, boot_timeout=30.0, repl_timeout=3.0, firmware_dir=build.FIRMWARE,
                 operator_key_file=None):
        self.name = name
        self.channel = channel
        self.board = board
        self.key_file = key_file
        # each node gets its admin key from it; by default it lives beside the network key
        self.operator_key_file = operator_key_file or operator_key_file_beside(key_file)
        self.baud = baud
        self.boot_timeout = boot_timeout
        self.repl_timeout = repl_timeout      # for the REPL prompt after Ctrl-C / soft reset
        self.firmware_dir = firmware_dir

    def board_profile(self):
        return boards.load_board(self.board) if self.board else None


class NodeDidNotStart(ToolError):
    """The files are on the board, but nowmesh did not come up."""


def _quiet(stage, done=0, total=0):
    pass


def deploy_board(url, options, progress=_quiet, key=None, port=None, operator_key=None):
    """Deploy the firmware and config to the board at `url`; -> result dict.
    `key` and `operator_key` (hex) default to the options' key files; `port`
    is an open pyserial port to use instead of opening `url` (tests cut it to
    emulate an unplug)."""
    started = time.monotonic()
    key = key or load_or_create_key(options.key_file)
    operator_key = operator_key or load_or_create_operator_key(options.operator_key_file)
    profile = options.board_profile()
    check_config(node_config({"name": "-"}, key, options.name, options.channel, options.board))
    serial_port = port or open_port(url, options.baud, timeout=0.05)
    repl = RawRepl(serial_port, url)
    try:
        result = fastpath.up_to_date(repl, options, key, profile, _managed_files(profile), operator_key)
        if result is None:
            result = _deploy(repl, options, key, profile, progress, operator_key)
            progress("confirming")
            result.update(_confirm(repl, options), restarted=True)
    except DeviceGone as exc:
        raise DeviceGone("%s; the board keeps its old firmware or the new one, never none: "
                         "deploy again to complete it" % exc) from None
    except (ToolError, InputError):
        _restart_quietly(repl)         # main.py was stopped for the deploy: start it again
        raise
    except KeyboardInterrupt:
        # the user stopped the deploy: end the program in flight (a staged
        # file is all it can be), start main.py again; the next deploy completes
        if repl.in_raw_repl:
            try:
                repl.write(b"\x03")
                repl.read_until(b"\x04>", 1.0)
            except ToolError:
                pass
        _restart_quietly(repl)
        raise
    finally:
        try:
            serial_port.close()
        except Exception:      # an unplugged port may fail to close; nothing left to do
            pass
    result.update(port=url, bytes_sent=repl.bytes_written, bytes_received=repl.bytes_read,
                  seconds=round(time.monotonic() - started, 3))
    return result


def _managed_files(profile):
    """Top-level files a deploy writes (besides the package folders)."""
    return list(build.SOURCE_FILES) + [CONFIG] + ([BOARD_FILE] if profile else [])


def _restart_quietly(repl):
    if not repl.in_raw_repl:
        return
    try:
        repl.run_main()
    except ToolError:
        pass


def _deploy(repl, options, key, profile, progress, operator_key):
    progress("connecting")
    repl.enter(timeout=options.repl_timeout)
    found = device.probe(repl, _managed_files(profile), build.PACKAGES)
    compiler = build.Compiler(found.mpy_version, found.mpy_sub_version, found.arch_index)
    local = build.firmware_tree(compiler, options.firmware_dir)
    local[CONFIG] = _config_file(repl, found, options, key, operator_key)
    if profile:
        local[BOARD_FILE] = board_file_bytes(profile)
    plan = make_plan(local, found.files, found.dirs, build.PACKAGES)
    if plan.mkdirs:
        repl.exec(device.mkdir_program(plan.mkdirs))
    _stage(repl, plan, found.deflate, progress)
    if not plan.nothing_to_do:
        progress("committing")
        repl.exec(device.commit_program(plan.commit, plan.remove))
    return {"files_sent": len(plan.send), "file_bytes_sent": plan.bytes_to_send,
            "files_committed": len(plan.commit), "files_unchanged": len(plan.unchanged),
            "files_removed": len(plan.remove), "compressed": found.deflate,
            "mpy": compiler.bytecode, "arch": compiler.arch,
            "micropython": ".".join(str(v) for v in found.version)}


def _stage(repl, plan, allow_deflate, progress):
    programs = device.stage_programs(plan.send, allow_deflate)
    try:
        for i, program in enumerate(programs):
            progress("sending", i, len(programs))
            repl.exec(program)
    except DeviceError as exc:
        # e.g. a full filesystem: take the staged copies away again, so the
        # space is free and the board is exactly as before
        try:
            repl.exec(device.commit_program([], [path + device.STAGED for path, _, _ in plan.send]))
        except ToolError:
            pass
        full = "ENOSPC" in exc.traceback or "28" in str(exc).split(":")[-1]
        raise DeviceError("%s: writing the new files failed: %s; nothing was changed%s" % (
            repl.url, str(exc).split(": ", 1)[-1],
            " (the board's filesystem is full: %d bytes to write)" % plan.bytes_to_send if full else ""),
            exc.traceback) from None


def _config_file(repl, found, options, key, operator_key):
    existing = parse_existing(found.config_text)
    mac = device.board_mac(repl)
    name = options.name
    if name is None and "name" not in existing:
        name = default_name(mac)
    config = node_config(existing, key, name, options.channel, options.board,
                         admin_fields(operator_key, mac_admin_id(mac)))
    check_config(config)
    return config_bytes(config)


def _confirm(repl, options):
    """Soft-reset into main.py; wait for its hello; check name and channel."""
    repl.run_main()
    hello = _wait_for_hello(repl, options.boot_timeout)
    status = _command(repl, "status", 10.0)
    expected = config_expected(options)
    for field, want in expected.items():
        if want is not None and status.get(field) != want:
            raise NodeDidNotStart("%s: nowmesh started with %s %r, not %r" % (
                repl.url, field, status.get(field), want))
    return {"name": status.get("name"), "id": hello.get("id"), "channel": status.get("channel"),
            "fw": hello.get("fw"), "board": hello.get("board")}


def config_expected(options):
    return {"name": options.name, "channel": options.channel}


def _lines(repl, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        raw = repl.read_until(b"\n", max(0.0, deadline - time.monotonic()))
        if raw is None:
            return
        yield parse_line(raw.decode("utf-8", "replace"))


def _wait_for_hello(repl, timeout):
    last_text = ""
    for line in _lines(repl, timeout):
        if line.kind == "event" and line.data.get("ev") == "hello":
            return line.data
        if line.kind == "event" and line.data.get("ev") == "crash":
            raise NodeDidNotStart("%s: the files are on the board but nowmesh crashed at start: %s"
                                  % (repl.url, line.data.get("error")))
        if line.kind == "mismatch":
            raise NodeDidNotStart("%s: the node speaks another console protocol version (%s): "
                                  "update the tools" % (repl.url, line.text))
        if line.kind == "text" and line.text.strip():
            last_text = line.text.strip()
            if last_text.startswith("nowmesh: cannot start"):
                raise NodeDidNotStart("%s: the files are on the board but main.py reports: %s"
                                      % (repl.url, last_text))
    raise NodeDidNotStart("%s: no hello from nowmesh within %gs after the reset%s" % (
        repl.url, timeout, " (last line: %s)" % last_text if last_text else ""))


def _command(repl, name, timeout):
    repl.write(format_command(1, name).encode())
    for line in _lines(repl, timeout):
        if line.kind == "reply" and line.data["re"] == 1:
            problem = answer_problem(name, line)
            if problem:
                raise NodeDidNotStart("%s: %s: malformed answer (%s)" % (repl.url, name, problem))
            if not line.data["ok"]:
                raise NodeDidNotStart("%s: %s failed: %s" % (repl.url, name, line.data.get("error")))
            return line.data.get("data") or {}
    raise NodeDidNotStart("%s: nowmesh did not answer %r within %gs" % (repl.url, name, timeout))


__all__ = ["DeployOptions", "deploy_board", "NodeDidNotStart", "DEFAULT_KEY_FILE"]
