"""One deploy to one board: probe, plan, stage, commit, reset, confirm.

    result = deploy_board("/dev/ttyUSB0", DeployOptions(name="kitchen"))
    result["files_sent"], result["bytes_sent"], result["seconds"]

See docs/deploy.md for what goes over the wire and why it is safe to unplug
the board at any moment.
"""
import time

from nowmesh import boards
from nowmesh.bundle import CONFIG, LIBRARY_FILES, PACKAGES, SOURCE_FILES, Compiler, board_files, node_files
from nowmesh.bundle import app_files
from nowmesh.console.client import ConsoleClient, open_port
from nowmesh.console.connection import Crash, Hello, Mismatch, NoAnswer, Output
from nowmesh.deploy import device, fastpath
from nowmesh.deploy.config import (DEFAULT_KEY_FILE, admin_fields, check_config, default_name,
                                   load_or_create_key, load_or_create_operator_key, mac_admin_id,
                                   node_config, operator_key_file_beside, parse_existing)
from nowmesh.deploy.plan import make_plan
from nowmesh.deploy.rawrepl import DeviceError, DeviceGone, RawRepl
from nowmesh.errors import InputError, ToolError

BOARD_FILE = boards.BOARD_FILE
OTA_STATE = ("ota/install.json", "ota/running.json")   # an OTA's journal and running bundle (meshport/ota_boot.py)


class DeployOptions:
    def __init__(self, name=None, channel=None, board=None, key_file=DEFAULT_KEY_FILE,
                 baud=115200, boot_timeout=30.0, repl_timeout=3.0, firmware_dir=None,
                 operator_key_file=None, gateway=None, app=None):
        self.name = name
        self.app = app                        # the user's app to install (a .py or a folder), or None: keep it
        self.gateway = gateway or {}          # bundle.node_files.gateway_fields: Wi-Fi + MQTT
        self.channel = channel
        self.board = board
        self.key_file = key_file
        # each node gets its admin key from it; by default it lives beside the network key
        self.operator_key_file = operator_key_file or operator_key_file_beside(key_file)
        self.baud = baud
        self.boot_timeout = boot_timeout
        self.repl_timeout = repl_timeout      # for the REPL prompt after Ctrl-C / soft reset
        self.firmware_dir = firmware_dir      # None: the bundled firmware (nowmesh.bundle)

    def board_profile(self):
        return boards.load_board(self.board) if self.board else None

    def managed_files(self, profile):
        """Files a deploy writes one by one (besides the folders it owns)."""
        return list(SOURCE_FILES) + list(LIBRARY_FILES) + [CONFIG] + ([BOARD_FILE] if profile else []) + \
            (list(app_files.MANAGED_FILES) if self.app else [])

    def owned_dirs(self):
        """Folders a deploy owns (stale files in them are removed): the user's
        app/ only when it deploys an app."""
        return list(PACKAGES) + ([app_files.APP_PACKAGE] if self.app else [])

    def local_files(self, compiler):
        """The firmware (and app, with --app) as this board gets it, without the config."""
        files = board_files(compiler, self.firmware_dir)
        if self.app:
            files.update(app_files.app_files(self.app, compiler))
        return files


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
    check_config(node_config({"name": "-"}, key, options.name, options.channel, options.board,
                             gateway=options.gateway))
    serial_port = port or open_port(url, options.baud, timeout=0.05)
    repl = RawRepl(serial_port, url)
    try:
        result = fastpath.up_to_date(repl, options, key, profile, operator_key)
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
    found = device.probe(repl, options.managed_files(profile), options.owned_dirs())
    compiler = Compiler(found.mpy_version, found.mpy_sub_version, found.arch_index)
    local = options.local_files(compiler)
    local.update(node_files(_config(repl, found, options, key, operator_key), profile))
    plan = make_plan(local, found.files, found.dirs, options.owned_dirs(),
                     app_files.MANAGED_FILES if options.app else ())
    if plan.mkdirs:
        repl.exec(device.mkdir_program(plan.mkdirs))
    _stage(repl, plan, found.deflate, progress)
    if not plan.nothing_to_do:
        progress("committing")
        # a deploy replaces what an OTA installed: its journal goes first, so
        # no boot rolls the new files back; without running.json `fw` is the tree's
        repl.exec(device.commit_program([], list(OTA_STATE)))
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


def _config(repl, found, options, key, operator_key):
    existing = parse_existing(found.config_text)
    mac = device.board_mac(repl)
    name = options.name
    if name is None and "name" not in existing:
        name = default_name(mac)
    config = node_config(existing, key, name, options.channel, options.board,
                         admin_fields(operator_key, mac_admin_id(mac)), options.gateway)
    check_config(config)
    return config


def _confirm(repl, options):
    """Soft-reset into main.py; wait for its hello; check name and channel."""
    repl.run_main()
    console = ConsoleClient(repl.url, port=repl)     # main.py's console, over the same bytes
    hello = _wait_for_hello(console, options.boot_timeout)
    status = _command(console, "status", 10.0)
    expected = config_expected(options)
    for field, want in expected.items():
        if want is not None and status.get(field) != want:
            raise NodeDidNotStart("%s: nowmesh started with %s %r, not %r" % (
                repl.url, field, status.get(field), want))
    return {"name": status.get("name"), "id": hello.get("id"), "channel": status.get("channel"),
            "fw": hello.get("fw"), "board": hello.get("board")}


def config_expected(options):
    return {"name": options.name, "channel": options.channel}


def _wait_for_hello(console, timeout):
    last_text = ""
    for event in console.events(timeout):
        if isinstance(event, Hello):
            return event.data
        if isinstance(event, Crash):
            raise NodeDidNotStart("%s: the files are on the board but nowmesh crashed at start: %s"
                                  % (console.url, event.error))
        if isinstance(event, Mismatch):
            raise NodeDidNotStart("%s: the node speaks another console protocol version (%s): "
                                  "update the tools" % (console.url, event.text))
        if isinstance(event, Output) and event.text.strip():
            last_text = event.text.strip()
            if last_text.startswith("nowmesh: cannot start"):
                raise NodeDidNotStart("%s: the files are on the board but main.py reports: %s"
                                      % (console.url, last_text))
    raise NodeDidNotStart("%s: no hello from nowmesh within %gs after the reset%s" % (
        console.url, timeout, " (last line: %s)" % last_text if last_text else ""))


def _command(console, name, timeout):
    reply = console.wait_for(console.request(name, timeout=timeout))
    if isinstance(reply, NoAnswer):
        raise NodeDidNotStart("%s: nowmesh did not answer %r within %gs" % (console.url, name, timeout))
    if reply.malformed:
        raise NodeDidNotStart("%s: %s: malformed answer (%s)" % (console.url, name, reply.malformed))
    if not reply.ok:
        raise NodeDidNotStart("%s: %s failed: %s" % (console.url, name, reply.error))
    return reply.data or {}


__all__ = ["DeployOptions", "deploy_board", "NodeDidNotStart", "DEFAULT_KEY_FILE"]
