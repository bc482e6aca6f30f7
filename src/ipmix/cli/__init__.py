"""The `ipmix` command: one entry point, one module per subcommand.

Each module listed in `COMMANDS` exposes `register(subparsers)`, which adds its parser and sets
`func` to the function that runs it. Modules only parse arguments and call library code.
"""

from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS = ("show", "train", "evaluate", "report", "make_cifar_c", "mixing_set")


class CommandError(Exception):
    """A user error a command reports as one clear line (exit status 2)."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ipmix",
        description="IPMix augmentation, mixing sets, training and robustness evaluation.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"ipmix.cli.{name}").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
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
