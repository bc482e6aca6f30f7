"""The `ipmix` command: one entry point, one module per subcommand.

Each module listed in `COMMANDS` exposes `register(subparsers)`, which adds its parser and sets
`func` to the function that runs it. Modules only parse arguments and call library code.
"""

from __future__ import annotations

import argparse
import importlib
import sys

#: Subcommand name -> module in ipmix.cli. Only the module of the command being run is
#: imported (all of them for --help), so light commands start fast.
COMMANDS = {
    "demo": "demo",
    "show": "show",
    "mixing-set": "mixing_set",
    "train": "train",
    "evaluate": "evaluate",
    "report": "report",
    "reproduce": "reproduce",
    "figures": "figures",
    "make-cifar-c": "make_cifar_c",
    "make-cifar-p": "make_cifar_c",
    "make-c": "make_c",
    "make-p": "make_p",
}


class CommandError(Exception):
    """A user error a command reports as one clear line (exit status 2)."""


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The `ipmix` parser; with `command`, only that subcommand's module is imported."""
    parser = argparse.ArgumentParser(
        prog="ipmix",
        description="IPMix augmentation, mixing sets, training and robustness evaluation.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    modules = [COMMANDS[command]] if command in COMMANDS else list(dict.fromkeys(COMMANDS.values()))
    for module in modules:
        importlib.import_module(f"ipmix.cli.{module}").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(argv[0] if argv else None)
    args = parser.parse_args(argv)
    try:
        result = args.func(args)
    except (CommandError, ValueError, FileNotFoundError, NotADirectoryError) as error:
        print(f"ipmix {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"ipmix {args.command}: interrupted", file=sys.stderr)
        return 130
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
