"""One CLI vocabulary (issue 20, item 3): `--json` on every command that prints a result, shared
options from their one declaration, help on every command, one user-error base class caught once
in `cinefeat.cli.main`, and one exit-code scheme (docs/cli.md).

Walks the real command tree mounted by `cinefeat.cli.main` (not a list kept by hand), so a command
added tomorrow is checked the day it is added.
"""

from __future__ import annotations

import ast
import builtins
import json
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from cinefeat.cli.main import CinefeatGroup, main
from cinefeat.store import cli_options
from cinefeat.store.cli_options import SharedArgument, SharedOption
from cinefeat.store.errors import CinefeatError
from cinefeat.store.exit_codes import (
    EXIT_ERROR,
    EXIT_MEANINGS,
    EXIT_NOTHING_USABLE,
    EXIT_OK,
    EXIT_SOME_FAILED,
    EXIT_USAGE,
)

PACKAGE = Path(cli_options.__file__).resolve().parents[1]
DOCS = PACKAGE / "docs" / "cli.md"

# Commands without --json, and why. Every other command prints a result and must take --json.
JSON_EXEMPT = {
    "cinefeat demo": "a walkthrough: it prints each command it runs with that command's own "
    "output; its result is the README.md report it writes (docs/cli.md)",
}

# Exception classes of the package that are not user errors, and why.
NOT_USER_ERRORS = {
    "MissingInput": "control flow inside the extraction runner: the trailer lacks a stream, so "
    "the feature is recorded `missing`; it never reaches the user as an error",
}


def walk(
    command: click.Command = main, path: tuple[str, ...] = ("cinefeat",)
) -> Iterator[tuple[str, click.Command]]:
    yield " ".join(path), command
    if isinstance(command, click.Group):
        for name, sub in sorted(command.commands.items()):
            yield from walk(sub, (*path, name))


COMMANDS = dict(walk())
LEAVES = {name: c for name, c in COMMANDS.items() if not isinstance(c, click.Group)}


def options_named(command: click.Command, flag: str) -> list[click.Option]:
    return [p for p in command.params if isinstance(p, click.Option) and flag in p.opts]


@pytest.mark.parametrize("name", sorted(set(LEAVES) - set(JSON_EXEMPT)))
def test_every_command_that_prints_a_result_has_the_shared_json_option(name: str) -> None:
    (option,) = options_named(LEAVES[name], "--json")
    assert isinstance(option, SharedOption) and option.name == "as_json" and option.is_flag


def test_the_exempt_commands_exist_and_really_lack_json() -> None:
    for name, why in JSON_EXEMPT.items():
        assert name in LEAVES and why
        assert options_named(LEAVES[name], "--json") == []
    assert len(LEAVES) - len(JSON_EXEMPT) >= 30  # the walk reached the whole tree


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_and_group_has_help_text(name: str) -> None:
    assert (COMMANDS[name].help or "").strip(), name


def test_shared_options_and_the_store_argument_come_from_the_one_declaration() -> None:
    stray = []
    stores = 0
    for name, command in COMMANDS.items():
        for param in command.params:
            opts = set(getattr(param, "opts", []))
            if opts & {"--json", "--device", "--quiet"} and not isinstance(param, SharedOption):
                stray.append(f"{name} {'/'.join(sorted(opts))}")
            is_store = isinstance(param, click.Argument) and (
                param.name in ("store", "store_path", "path") or param.metavar == "STORE"
            )
            if is_store and not isinstance(param, SharedArgument):
                stray.append(f"{name} {param.name}")
            stores += isinstance(param, SharedArgument)
    assert stray == []
    assert stores >= 18  # store *, train, evaluate, similar, zeroshot-*, archive, ...


def test_the_shared_declarations_have_one_help_text_each() -> None:
    helps = {
        flag: {o.help for c in COMMANDS.values() for o in options_named(c, flag)}
        for flag in ("--device", "--quiet")
    }
    assert helps == {"--device": {cli_options.DEVICE_HELP}, "--quiet": {cli_options.QUIET_HELP}}
    json_helps = {o.help for c in COMMANDS.values() for o in options_named(c, "--json")}
    assert all(h.endswith("as one JSON document on stdout (undefined numbers as null).")
               for h in json_helps)  # fmt: skip


def test_docs_cli_names_every_command_and_exit_code() -> None:
    text = DOCS.read_text()
    for name in LEAVES:
        assert f"`{name.split(' ', 1)[1].split(' ')[-1]}`" in text, name
    for code in EXIT_MEANINGS:
        assert f"| {code} |" in text


def test_echo_result_writes_json_every_parser_reads(capsys: pytest.CaptureFixture[str]) -> None:
    import numpy as np

    cli_options.echo_result({"ap": float("nan"), "n": np.int64(3), "é": [np.inf]}, True, "text")
    out = capsys.readouterr().out
    assert json.loads(out, parse_constant=pytest.fail) == {"ap": None, "n": 3, "é": [None]}
    cli_options.echo_result({"ap": 1.0}, False, lambda: "as text")
    assert capsys.readouterr().out == "as text\n"


def test_the_exit_codes_are_extracts() -> None:
    from cinefeat.extract import summary

    assert (EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_SOME_FAILED, EXIT_NOTHING_USABLE) == (
        0, 1, 2, 3, 4)  # fmt: skip
    assert (summary.EXIT_SOME_FAILED, summary.EXIT_NOTHING_USABLE) == (3, 4)


# --- one user-error base class, caught once ---------------------------------------------------


def exception_classes() -> dict[str, tuple[str, list[str]]]:
    """Every exception class the package defines: name -> (module path, base names)."""
    found: dict[str, tuple[str, list[str]]] = {}
    for folder in ("cli", "extract", "fuse", "store"):
        for file in (PACKAGE / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(file.read_text())):
                if isinstance(node, ast.ClassDef):
                    bases = [ast.unparse(b).split(".")[-1] for b in node.bases]
                    found[f"{file.relative_to(PACKAGE)}:{node.name}"] = (node.name, bases)
    builtin = {n for n in dir(builtins) if isinstance(getattr(builtins, n), type)
               and issubclass(getattr(builtins, n), BaseException)}  # fmt: skip
    errors = {key: v for key, v in found.items() if set(v[1]) & builtin}
    names = {name for name, _ in errors.values()}
    while True:  # subclasses of the package's own exceptions, to any depth
        more = {k: v for k, v in found.items() if k not in errors and set(v[1]) & names}
        if not more:
            return errors
        errors.update(more)
        names |= {name for name, _ in more.values()}


def test_every_exception_class_of_the_package_is_a_cinefeat_error() -> None:
    classes = exception_classes()
    assert len(classes) >= 50  # the scan found them (about 28 bases and their subclasses)
    good = {"CinefeatError"}
    pending = {k: v for k, v in classes.items() if v[0] != "CinefeatError"}
    while True:  # a class is a user error when one of its bases is
        done = {k for k, (name, bases) in pending.items() if set(bases) & good}
        if not done:
            break
        good |= {pending.pop(k)[0] for k in done}
    assert sorted(k for k, (name, _) in pending.items() if name not in NOT_USER_ERRORS) == []


def toy_group() -> click.Group:
    class Fixable(CinefeatError, KeyError):
        exit_code = EXIT_SOME_FAILED

    @click.group(cls=CinefeatGroup)
    @click.option("-v", "--verbose", count=True, help="Show tracebacks.")
    def group(verbose: int) -> None:
        """A group like `cinefeat`."""

    @group.command()
    def fixable() -> None:
        """Fails with a user error."""
        raise Fixable("the disk is full: free some space")

    @group.command()
    def bug() -> None:
        """Fails with a bug."""
        raise RuntimeError("a bug")

    return group


def test_a_user_error_is_one_line_with_its_exit_code_and_a_traceback_only_with_v() -> None:
    result = CliRunner().invoke(toy_group(), ["fixable"])
    assert result.exit_code == EXIT_SOME_FAILED
    assert result.stderr == "error: the disk is full: free some space\n"  # no KeyError quotes
    verbose = CliRunner().invoke(toy_group(), ["-v", "fixable"])
    assert verbose.exit_code == EXIT_SOME_FAILED and "Traceback" in verbose.stderr


def test_an_unexpected_exception_keeps_its_traceback() -> None:
    result = CliRunner().invoke(toy_group(), ["bug"])
    assert isinstance(result.exception, RuntimeError)  # not turned into a message


# --- real failures of real commands -----------------------------------------------------------


def run(*args: object) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


def test_a_path_that_is_not_a_store_is_error_1_without_traceback(tmp_path: Path) -> None:
    for command in (["store", "info"], ["similar"], ["split", "--kind", "sorted-id"]):
        args = [*command, tmp_path / "nothing"] + (["some-id"] if command == ["similar"] else [])
        result = run(*args)
        assert result.exit_code == EXIT_ERROR, (command, result.output)
        assert result.stderr.startswith("error: ") and "is not a cinefeat store" in result.stderr
        assert "Traceback" not in result.stderr
    assert "Traceback" in run("-v", "store", "info", tmp_path / "nothing").stderr


@pytest.mark.parametrize("command", ["evaluate", "train"])
def test_a_device_that_is_not_one_is_a_usage_error_2(command: str, tmp_path: Path) -> None:
    what = ["--head", tmp_path] if command == "evaluate" else ["--arch", "mlp", "--features", "a"]
    result = run(command, tmp_path, *what, "--out", tmp_path / "r", "--device", "gpu0")
    assert result.exit_code == EXIT_USAGE, result.output
    assert "error: --device 'gpu0' is not a device" in result.stderr


def test_cuda_on_a_machine_without_it_is_error_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    result = run("evaluate", tmp_path, "--head", tmp_path, "--out", tmp_path / "r", "--device",
                 "cuda")  # fmt: skip
    assert result.exit_code == EXIT_ERROR and "use --device cpu" in result.stderr


def test_train_without_arch_is_a_usage_error_2(tmp_path: Path) -> None:
    result = run("train", tmp_path, "--features", "clip", "--out", tmp_path / "o")
    assert result.exit_code == EXIT_USAGE and "Missing option '--arch'" in result.output


def test_the_deprecated_head_alias_of_train_warns_and_is_hidden(tmp_path: Path) -> None:
    result = run("train", tmp_path / "nothing", "--head", "mlp", "--features", "clip", "--out",
                 tmp_path / "o")  # fmt: skip
    # past the --arch check (the alias counts), stopped by the missing store: exit 1, not 2
    assert result.exit_code == EXIT_ERROR and "is not a cinefeat store" in result.stderr
    assert "--head mlp is deprecated for a head architecture: use --arch mlp" in result.stderr
    disagree = run("train", tmp_path, "--arch", "gmu", "--head", "mlp", "--features", "clip",
                   "--out", tmp_path / "o")  # fmt: skip
    assert disagree.exit_code == EXIT_USAGE and "disagree" in disagree.output
    for command in ("train", "tune"):
        shown = run(command, "--help").output
        assert "--arch" in shown and "--head" not in shown
