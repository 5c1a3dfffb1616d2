"""The parser of the hack's three commands: argparse, with options anywhere on the line, as git and az users
type them.

- Options and positionals mix in any order (`traffic --workspace ws green=100 blue=0` is `traffic green=100
  blue=0 --workspace ws`): a parser without subcommands parses intermixed, which argparse refuses on a
  parser with subcommands.
- A parser with subcommands only routes. Its own options are the global ones: given before the
  subcommand, they are handed to it (`wth-grader --config teams.yaml check` is `wth-grader check --config
  teams.yaml`), `-h/--help` among them (`wth-grader --help check` is check's help).
- `--` ends the options. A mistake is one line naming it, with exit 2; the usage is `--help`'s.
- A subcommand's options may be declared by its stage (`add_parser(name, arguments=add)`, `add(parser)` adding
  them): they are added when that subcommand is chosen, so that the stage's module, however heavy its imports,
  is imported by its own command only, not by `--help` or another command.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from .errors import StepFailed, UsageError


class Parser(argparse.ArgumentParser):
    """An ArgumentParser for the rules above; its subcommands' parsers are of this class too."""

    _intermixing = False

    def __init__(self, *args, arguments: Callable[[argparse.ArgumentParser], None] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self._arguments = arguments

    def complete(self) -> Parser:
        """This parser with the options its stage declares (`arguments`), added once."""
        if self._arguments is not None:
            add, self._arguments = self._arguments, None
            add(self)
        return self

    def format_help(self) -> str:
        return super(Parser, self.complete()).format_help()

    def add_subparsers(self, **kwargs):
        self.epilog = self.epilog or ("options go anywhere on the line; the options above may also come before "
                                      "the command, which gets them; -- ends the options")
        return super().add_subparsers(**kwargs)

    def parse_known_args(self, args=None, namespace=None):
        """As argparse's, except that what no subcommand knows is refused by that subcommand, which names
        itself in the error, rather than left to the top parser."""
        args = sys.argv[1:] if args is None else list(args)
        self.complete()
        if self._subparsers is not None:
            return super().parse_known_args(self._hand_on(args), namespace)
        if self._intermixing:  # argparse's intermixed parse calls back here for each of its two passes
            return super().parse_known_args(args, namespace)
        self._intermixing = True
        try:
            namespace, extras = self.parse_known_intermixed_args(args, namespace)
        finally:
            self._intermixing = False
        if extras:
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return namespace, []

    def error(self, message: str):
        self.exit(2, f"{self.prog}: {message} (see `{self.prog} --help`)\n")

    def _hand_on(self, args: list[str]) -> list[str]:
        """`args` with the global options given before the subcommand moved just after it."""
        given, i = [], 0
        while i < len(args) and args[i].startswith("-") and args[i] not in ("-", "--"):
            action = self._global(args[i])
            if action is None:
                self.error(f"{args[i]} is not a global option: give it after the command")
            size = 1 if action.nargs == 0 or "=" in args[i] else 2
            given, i = given + args[i:i + size], i + size
        if not given or i >= len(args) or args[i] == "--":
            return args
        return [args[i], *given, *args[i + 1:]]

    def _global(self, token: str) -> argparse.Action | None:
        """The option `token` names (`--name`, `--name=value`, or a prefix of one name, as argparse allows)."""
        name = token.split("=", 1)[0]
        named = [action for action in self._actions if name in action.option_strings]
        if not named and self.allow_abbrev and name.startswith("--"):
            named = [action for action in self._actions if any(s.startswith(name) for s in action.option_strings)]
        return named[0] if len(named) == 1 else None


def run(parser: argparse.ArgumentParser, argv: list[str] | None, name: Callable[[argparse.Namespace], str]) -> int:
    """Parse `argv`, call the chosen command's `func`; a `UsageError` (exit 2), a `StepFailed` (exit 1) or a
    file that cannot be read (exit 2) is one line on stderr, prefixed with `name(args)`, never a traceback."""
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (UsageError, StepFailed) as err:
        print(f"{name(args)}: {err}", file=sys.stderr)
        return err.exit_code
    except BrokenPipeError:  # output piped into `head` and the like
        sys.stderr.close()
        return 0
    except OSError as err:
        where = getattr(err, "filename", None)
        print(f"{name(args)}: {err.strerror or err}" + (f": {where}" if where else ""), file=sys.stderr)
        return UsageError.exit_code
    except KeyboardInterrupt:
        print(f"{name(args)}: interrupted", file=sys.stderr)
        return 130
