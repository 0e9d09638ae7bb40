"""`--config job.toml`: a long job's settings in a file, checked like flags, recorded in the store.

Why (PySceneDetect's `--config`): a batch extraction over 26k trailers is started many times
(resumes, shards, new GPU nodes) with a dozen flags; a file keeps them identical between starts
and reviewable. Sections are named after commands and keys after flags (`[extract]`, `features =
"clip,audiotag"`, `batch-size = 32`, `option = ["i3d.frames_per_clip=64"]`); each value is checked
by the flag's own type, so a bad value fails before any work, naming the file, the section and
the key, and an unknown key names the valid ones. Flags given on the command line win over the
file. The command records its effective settings (`effective_config`) in every part it writes;
`cinefeat store runs STORE --toml RUN` prints them back as a file that repeats the run.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])
META_KEY = "cinefeat.config_file"


def _names(command: click.Command) -> dict[str, click.Parameter]:
    """Every spelling a key may use for a parameter: its name and its flags without dashes."""
    names: dict[str, click.Parameter] = {}
    for param in command.params:
        if param.name is None or not param.expose_value:
            continue
        names[param.name] = param
        for flag in getattr(param, "opts", []):
            if flag.startswith("--"):
                names[flag[2:].replace("-", "_")] = param
    return names


def read_section(path: Path, command: click.Command, ctx: click.Context) -> dict[str, Any]:
    """The `[<command>]` section of `path` as {parameter name: value}, each value checked."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise click.BadParameter(f"{path} is not a readable TOML file: {error}") from None
    name = command.name or ""
    section = data.get(name)
    if not isinstance(section, dict):
        found = ", ".join(f"[{k}]" for k, v in data.items() if isinstance(v, dict)) or "none"
        raise click.BadParameter(f"{path} has no [{name}] section (sections found: {found})")
    names = _names(command)
    out: dict[str, Any] = {}
    for key, value in section.items():
        param = names.get(key.replace("-", "_"))
        if param is None or param.name == "config_file":
            valid = sorted({p.name for p in names.values() if p.name != "config_file"})
            raise click.BadParameter(
                f"{path} [{name}]: unknown key {key!r}; valid keys: {', '.join(valid)}"
            )
        if getattr(param, "multiple", False) and not isinstance(value, list):
            value = [value]
        try:
            param.type_cast_value(ctx, value)
        except click.BadParameter as error:
            problem = f"{path} [{name}] {key} = {value!r}: {error.message}"
            raise click.BadParameter(problem) from None
        out[str(param.name)] = value
    return out


def _load(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value is None:
        return
    section = read_section(Path(value), ctx.command, ctx)
    ctx.default_map = {**(ctx.default_map or {}), **section}
    ctx.meta[META_KEY] = str(Path(value).resolve())


def config_option(function: F) -> F:
    """`--config FILE` on a command: defaults from the file's section named after the command."""
    return click.option(
        "--config",
        "config_file",
        type=click.Path(exists=True, dir_okay=False),
        is_eager=True,  # read before the other flags, so its values become their defaults
        expose_value=False,
        callback=_load,
        help="TOML file whose [<command>] section sets this command's flags (flags win).",
    )(function)


def effective_config(ctx: click.Context, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """What this invocation ran with: every parameter's final value, and where it came from."""
    values = {
        name: json.loads(json.dumps(value, default=str))
        for name, value in ctx.params.items()
        if name not in skip
    }
    sources = {
        name: source.name.lower()
        for name in values
        if (source := ctx.get_parameter_source(name)) is not None
    }
    from cinefeat.store.archive.manifest import cinefeat_version

    return {
        "command": ctx.command_path,
        "cinefeat": cinefeat_version(),
        "config_file": ctx.meta.get(META_KEY),
        "params": values,
        "sources": sources,
    }


def to_toml(config: dict[str, Any]) -> str:
    """A recorded config as a `--config` file for the same command (None values left out)."""
    command = str(config.get("command", "")).split()[-1] or "extract"
    lines = [f"# {config.get('command')} as recorded by cinefeat {config.get('cinefeat')}"]
    lines.append(f"[{command}]")
    for key, value in sorted(config.get("params", {}).items()):
        if value is None or value == []:
            continue
        lines.append(f"{key} = {_toml_value(value)}")
    return "\n".join(lines) + "\n"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(str(value))  # a TOML basic string is a JSON string
