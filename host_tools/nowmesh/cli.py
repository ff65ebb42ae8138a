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
    "console": ("nowmesh.commands.console", "stream a node's console events, or send it one command"),
    "emulate": ("nowmesh.commands.emulate", "run a live emulated mesh of micropython nodes behind ptys"),
    "decode": ("nowmesh.commands.decode", "decode a frame capture of an emulated mesh"),
}


def build_parser():
    parser = argparse.ArgumentParser(prog="nowmesh", description="Tools for ESP-NOW meshes of MicroPython boards.")
    parser.add_argument("--version", action="version", version="nowmesh " + __version__)
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, (module_name, help_text) in COMMANDS.items():
        module = importlib.import_module(module_name)
        command = sub.add_parser(name, help=help_text, description=module.__doc__)
        module.add_arguments(command)
        command.set_defaults(_run=module.run, _parser=command)
    return parser


def main(argv=None):
    parser = build_parser()
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
