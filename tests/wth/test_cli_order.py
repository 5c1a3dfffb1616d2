"""Options anywhere on the line, for the three commands (wth.cli_parsing): every subcommand, found by walking the
real parsers, parses the same with its options before, between and after its positionals and with its global
options before the command; `--help` anywhere is the subcommand's help; an unknown option anywhere is one line
naming it, exit 2; `--` ends the options. A few in-process runs of `main` show the behaviour, not just the parse."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from grader import cli as grader_cli
from solution import cli as solution_cli
from wth import cli as wth_cli

REPO_ROOT = Path(__file__).resolve().parents[2]
MAINS = {"wth": wth_cli, "wth-solution": solution_cli, "wth-grader": grader_cli}


def walk(parser: argparse.ArgumentParser, path: tuple[str, ...] = (), routers: tuple = ()):
    """(path, leaf parser, the routing parsers above it) for every subcommand, nested ones included, each with the
    options its stage declares (added when the subcommand is chosen: `Parser.complete`)."""
    parser.complete()
    subparsers = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subparsers:
        yield path, parser, routers
        return
    for name, sub in subparsers[0].choices.items():
        yield from walk(sub, (*path, name), (*routers, parser))


LEAVES = [(program, path, leaf, routers) for program, module in MAINS.items()
          for path, leaf, routers in walk(module.build_parser())]


def a_value(action: argparse.Action, n: int) -> str:
    """A value `action` accepts, `n` where it can (so that two options' values never look alike)."""
    if action.choices:
        return list(action.choices)[n % len(action.choices)]
    for candidate in (str(n), "1"):
        try:
            (action.type or str)(candidate)
            return candidate
        except (argparse.ArgumentTypeError, ValueError):
            continue
    raise AssertionError(f"no value found for {action.dest}")


def example(leaf: argparse.ArgumentParser):
    """Every option of `leaf` given (one of each mutually exclusive group) as [(action, tokens)], and its
    positionals as [(action, values)]; a variadic positional gets two values."""
    left_out = {a for group in leaf._mutually_exclusive_groups for a in group._group_actions[1:]}
    options, positionals = [], []
    for n, action in enumerate(leaf._actions, start=2):
        if isinstance(action, argparse._HelpAction) or action in left_out:
            continue
        if action.option_strings:
            flag = max(action.option_strings, key=len)
            options.append((action, [flag] if action.nargs == 0 else [flag, a_value(action, n)]))
        else:
            positionals.append((action, [a_value(action, n + k) for k in range(2 if action.nargs in ("*", "+") else 1)]))
    return options, positionals


def expected(action: argparse.Action, values: list[str]):
    if action.nargs == 0:
        return action.const
    converted = [(action.type or str)(value) for value in values]
    if isinstance(action, argparse._AppendAction):  # given once: a list of one
        return converted
    return converted if action.nargs in ("*", "+") else converted[0]


def flat(groups) -> list[str]:
    return [token for _, tokens in groups for token in tokens]


def orders(path, leaf, routers) -> dict[str, list[str]]:
    """The same command line in several orders: options first (the one argparse took before), last, reversed,
    threaded between the positionals, and each router's global options before its subcommand."""
    options, positionals = example(leaf)
    words = flat(positionals)
    threaded = []
    for i in range(max(len(words), len(options))):
        threaded += words[i:i + 1] + (options[i][1] if i < len(options) else [])
    found = {"options first": [*path, *flat(options), *words],
             "options last": [*path, *words, *flat(options)],
             "options last, reversed": [*path, *words, *flat(reversed(options))],
             "options between": [*path, *threaded]}
    for depth, router in enumerate(routers):
        flags = {s for a in router._actions if not isinstance(a, argparse._HelpAction) for s in a.option_strings}
        given = [group for group in options if group[1][0] in flags]
        if given:
            rest = [group for group in options if group not in given]
            found[f"global before {path[depth]}"] = [*path[:depth], *flat(given), *path[depth:], *words, *flat(rest)]
    return found


def parse(program: str, argv: list[str]) -> dict:
    return vars(MAINS[program].build_parser().parse_args(argv))


def ids(case) -> str:
    return " ".join([case[0], *case[1]])


@pytest.mark.parametrize("program, path, leaf, routers", LEAVES, ids=[ids(leaf) for leaf in LEAVES])
def test_every_order_parses_the_same(program, path, leaf, routers):
    options, positionals = example(leaf)
    lines = orders(path, leaf, routers)
    reference = parse(program, lines["options first"])
    for action, values in [*[(a, tokens[1:]) for a, tokens in options], *positionals]:
        assert reference[action.dest] == expected(action, values), (action.dest, lines["options first"])
    for name, argv in lines.items():
        assert parse(program, argv) == reference, f"{name}: {program} {' '.join(argv)}"


def test_the_commands_have_global_options_and_the_walk_reaches_nested_subcommands():
    names = {ids(leaf) for leaf in LEAVES}
    assert {"wth-solution pipeline build", "wth-solution endpoint", "wth-grader watch", "wth ui"} <= names
    cases = {ids(leaf): orders(*leaf[1:]) for leaf in LEAVES}
    assert "global before pipeline" in cases["wth-solution pipeline build"]
    assert "global before build" in cases["wth-solution pipeline build"]
    assert "global before scoreboard" in cases["wth-grader scoreboard"]
    assert not any(name.startswith("global") for name in cases["wth ui"])  # wth's commands share no option
    between = cases["wth-solution endpoint"]["options between"]  # an option between the split's NAME=PCT values
    split = parse("wth-solution", between)["split"]
    assert len(split) == 2 and between.index(split[1]) - between.index(split[0]) > 1


@pytest.mark.parametrize("program, path, leaf, routers", LEAVES, ids=[ids(leaf) for leaf in LEAVES])
def test_help_anywhere_is_the_subcommands_help(program, path, leaf, routers, capsys):
    argv = orders(path, leaf, routers)["options last"]
    for at in sorted({0, len(path), len(argv)}):
        with pytest.raises(SystemExit) as done:
            MAINS[program].build_parser().parse_args([*argv[:at], "--help", *argv[at:]])
        assert done.value.code == 0
        assert capsys.readouterr().out.startswith(f"usage: {leaf.prog} "), (at, argv)


@pytest.mark.parametrize("program, path, leaf, routers", LEAVES, ids=[ids(leaf) for leaf in LEAVES])
def test_an_unknown_option_anywhere_is_one_line_naming_it(program, path, leaf, routers, capsys):
    argv = orders(path, leaf, routers)["options last"]
    for at in sorted({0, len(path), len(argv)}):
        with pytest.raises(SystemExit) as done:
            MAINS[program].main([*argv[:at], "--no-such-option", *argv[at:]])
        err = capsys.readouterr().err
        assert done.value.code == 2 and err.count("\n") == 1 and "--no-such-option" in err, (at, err)


def test_double_dash_ends_the_options():
    argv = ["endpoint", "traffic", "blue=90", "--", "--workspace", "-x"]
    assert parse("wth-solution", argv)["split"] == ["blue=90", "--workspace", "-x"]
    assert parse("wth-solution", argv)["workspace"] is None


def test_a_global_option_the_command_does_not_take_is_refused_by_it(capsys):
    with pytest.raises(SystemExit) as done:
        solution_cli.main(["--workspace", "ws", "simulate"])
    assert done.value.code == 2
    assert capsys.readouterr().err.startswith("wth-solution simulate: unrecognized arguments: --workspace ws")
    with pytest.raises(SystemExit):
        grader_cli.main(["--json", "scoreboard", "--config", "teams.yaml"])
    assert "--json is not a global option: give it after the command" in capsys.readouterr().err


def test_endpoint_traffic_refuses_a_bad_split_in_either_order(tmp_path, capsys):
    ws = str(tmp_path / "ws")
    errors = []
    for argv in (["endpoint", "traffic", "--workspace", ws, "green=all", "blue=0"],
                 ["--workspace", ws, "endpoint", "traffic", "green=all", "blue=0"],
                 ["endpoint", "traffic", "green=all", "blue=0", "--workspace", ws]):
        assert solution_cli.main(argv) == 2
        errors.append(capsys.readouterr().err)
    assert errors == ["wth-solution endpoint: 'green=all': give the traffic as NAME=PERCENT, e.g. blue=90 green=10\n"] * 3
    assert not (tmp_path / "ws").exists()
    assert solution_cli.main(["endpoint", "traffic", "--workspace", ws, "green=100", "blue=0"]) == 2
    assert capsys.readouterr().err == f"wth-solution endpoint: no endpoint is serving from {ws}: `wth-solution deploy` first\n"


def test_the_grader_reads_the_teams_file_given_before_the_command(tmp_path, capsys):
    missing = str(tmp_path / "teams.yaml")
    errors = []
    for argv in (["check", "--team", "alpha", "--config", missing], ["--config", missing, "check", "--team", "alpha"]):
        assert grader_cli.main(argv) == 2
        errors.append(capsys.readouterr().err)
    assert errors[0] == errors[1] and errors[0].count("\n") == 1 and "no such teams file" in errors[0]


def test_the_contracts_name_each_commands_global_options():
    """docs/contracts.md says which options may come before the command; the top parsers say the same."""
    text = " ".join((REPO_ROOT / "docs" / "contracts.md").read_text().split())
    for program, module in MAINS.items():
        options = [a for a in module.build_parser()._actions if a.option_strings and a.dest != "help"]
        for action in options:
            assert f"`{max(action.option_strings, key=len)} {action.metavar}` for `{program}`" in text, program
        if not options:
            assert f"`{program}` has none" in text
