"""The `nowmesh` command: a thin layer of argument parsing over the library.

Each subcommand lives in `nowmesh.commands.<name>` with `add_arguments(parser)`
and `run(args) -> exit code`. User errors (InputError) become one line on
stderr and exit code 2; tracebacks only with --debug.
"""
import argparse
import importlib
import os
import sys

from nowmesh import __version__
from nowmesh.errors import InputError, ToolError

COMMANDS = {
    "sim": ("nowmesh.commands.sim", "simulate a mesh on a virtual clock and report metrics"),
    "sweep": ("nowmesh.commands.sweep", "run a grid of simulations (local cores or a Dask cluster)"),
    "plot": ("nowmesh.commands.plot", "plot a sweep's airtime per reading and delivery"),
    "console": ("nowmesh.commands.console", "stream a node's console events, or send it one command"),
    "emulate": ("nowmesh.commands.emulate", "run a live emulated mesh of micropython nodes behind ptys"),
    "rom": ("nowmesh.commands.rom", "serve one emulated chip's ROM bootloader (download mode) on a pty"),
    "decode": ("nowmesh.commands.decode", "decode a frame capture of an emulated mesh"),
    # Host tools for boards (and emulated nodes' port paths).
    "ports": ("nowmesh.commands.ports", "list serial ports and what is attached to each"),
    "flash": ("nowmesh.commands.flash", "write MicroPython (or a nowmesh image) to boards with esptool"),
    "deploy": ("nowmesh.commands.deploy", "copy the compiled nowmesh firmware and config to boards"),
    "image": ("nowmesh.commands.image", "build one flash image per node: MicroPython plus a ready filesystem"),
    "monitor": ("nowmesh.commands.monitor", "live dashboard of the whole mesh through one node"),
    "export": ("nowmesh.commands.export", "export a monitor SQLite log as CSV or JSON lines"),
    "bridge": ("nowmesh.commands.bridge", "publish the mesh to an MQTT broker, with Home Assistant discovery"),
    "ota": ("nowmesh.commands.ota", "update every node's firmware over the mesh, signed, through one board"),
    "topology": ("nowmesh.commands.topology", "write the mesh's nodes and radio links as JSON, DOT, SVG or PNG"),
}
# One-shot queries share one module; it reads the command name from args.command.
for _name, _help in (
        ("status", "a node's status"), ("nodes", "every node the mesh knows"),
        ("neighbors", "a node's radio neighbours"), ("routes", "a node's routing table"),
        ("readings", "the latest reading of every node"), ("ping", "ping a node through the mesh"),
        ("trace", "the hop-by-hop path to a node"), ("send", "send a message to a node"),
        ("config-get", "read a node's config"), ("config-set", "change a node's config"),
        ("reboot", "reboot a node"), ("command", "run a command of the user app on a node (mesh.on_command)")):
    COMMANDS[_name] = ("nowmesh.commands.oneshot", _help)


def _load(module_name):
    # A command whose module is not written yet is left out, not an error.
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            return None
        raise


def build_parser(only=None):
    """The whole parser, or (for speed) one with just the command `only`:
    importing every command's module (esptool, textual, ...) costs ~0.3 s."""
    parser = argparse.ArgumentParser(prog="nowmesh", description="Tools for ESP-NOW meshes of MicroPython boards.")
    parser.add_argument("--version", action="version", version="nowmesh " + __version__)
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, (module_name, help_text) in COMMANDS.items():
        if only is not None and name != only:
            continue
        module = _load(module_name)
        if module is None:
            continue
        # Raw description: the docstring's example lines stay one per line.
        command = sub.add_parser(name, help=help_text, description=module.__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
        module.add_arguments(command)
        command.set_defaults(_run=module.run, _parser=command)
    return parser


def _chosen_command(argv):
    """The command argv names (None: load them all, for help or an error listing them)."""
    for arg in argv:
        if not arg.startswith("-"):
            return arg if arg in COMMANDS else None
    return "" if "--version" in argv else None


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(only=_chosen_command(argv))
    args = parser.parse_args(argv)
    try:
        return args._run(args)
    except InputError as exc:
        if args.debug:
            raise
        print("nowmesh %s: error: %s" % (args.command, exc), file=sys.stderr)
        return 2
    except ToolError as exc:
        if args.debug:
            raise
        print("nowmesh %s: %s" % (args.command, exc), file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:
        # `nowmesh decode cap | head`: the reader left; that is not an error.
        sys.stdout = open(os.devnull, "w")
        return 0
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
