"""The surface of the `cinefeat` command: fast `--help`, help text on every option, one `--device`.

Walks the real command tree mounted by `cinefeat.cli.main` (not a list kept by hand), so a new
command or option is checked the day it is added (issue 20, items 3 and 8).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import click
import pytest

from cinefeat.cli.main import main
from cinefeat.store import cli_options
from cinefeat.store.cli_options import DeviceError, LazyChoice, resolve_device

# `--help` runs in a fresh interpreter (this one already imported torch for other tests) and
# reports which heavy modules it loaded; click ends `--help` with SystemExit(0).
PROBE = """
import sys
from cinefeat.cli.main import main
try:
    main(sys.argv[1:], prog_name="cinefeat")
except SystemExit as end:
    assert end.code in (0, None), end.code
print(sorted(m for m in ("torch", "zarr") if m in sys.modules))
"""


def commands(
    command: click.Command = main, path: tuple[str, ...] = ("cinefeat",)
) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    yield path, command
    if isinstance(command, click.Group):
        for name, sub in sorted(command.commands.items()):
            yield from commands(sub, (*path, name))


def options() -> Iterator[tuple[str, click.Option]]:
    for path, command in commands():
        for param in command.params:
            if isinstance(param, click.Option) and not param.hidden:
                yield " ".join(path), param


GROUPS = [path[1:] for path, command in commands() if isinstance(command, click.Group)]


def heavy_modules_after_help(args: tuple[str, ...]) -> str:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args, "--help"], capture_output=True, text=True, check=True
    )
    return done.stdout.strip().splitlines()[-1]


@pytest.mark.parametrize("group", GROUPS, ids=lambda g: " ".join(g) or "cinefeat")
def test_help_of_the_command_and_each_group_imports_neither_torch_nor_zarr(
    group: tuple[str, ...],
) -> None:
    # torch + zarr made `cinefeat --help` take 2-3 s (benchmarks/cli_startup.py has the times)
    assert heavy_modules_after_help(group) == "[]"


def test_the_groups_include_the_root_and_the_store_group() -> None:
    assert () in GROUPS and ("store",) in GROUPS  # the parametrisation above is not empty


def test_every_option_has_help_text() -> None:
    missing = [
        f"{where} {'/'.join(o.opts)}" for where, o in options() if not (o.help or "").strip()
    ]
    assert missing == []


def test_every_device_option_defaults_to_auto() -> None:
    devices = [(where, o.default) for where, o in options() if "--device" in o.opts]
    assert len(devices) >= 10  # extract, predict, embed-labels, demo, train, evaluate, ...
    assert {default for _, default in devices} == {"auto"}, devices


def test_auto_is_cuda_when_torch_sees_a_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == resolve_device(None) == "cuda"
    assert resolve_device("cuda:1") == "cuda:1"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == "cpu"
    with pytest.raises(DeviceError, match="use --device cpu"):
        resolve_device("cuda")
    with pytest.raises(DeviceError, match="use auto, cpu, cuda or cuda:N"):
        resolve_device("gpu0")


def test_fuse_device_is_the_shared_resolver_as_a_torch_device(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import torch

    from cinefeat.fuse.device import DeviceError as FuseDeviceError
    from cinefeat.fuse.device import resolve_device as fuse_resolve

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert fuse_resolve("auto") == fuse_resolve(torch.device("cpu")) == torch.device("cpu")
    assert FuseDeviceError is DeviceError


def test_extract_refuses_devices_its_models_cannot_run_on() -> None:
    from cinefeat.extract.cli import resolve_extract_device

    assert resolve_extract_device("cpu") == "cpu"
    with pytest.raises(click.BadParameter, match="auto, cpu, cuda or cuda:N"):
        resolve_extract_device("mps")


def test_lazy_choice_loads_its_choices_on_first_use_only() -> None:
    calls = []

    def load() -> list[str]:
        calls.append(1)
        return ["a", "b"]

    choice = LazyChoice(load)
    assert calls == []
    assert choice.convert("a", None, None) == "a"
    with pytest.raises(click.BadParameter, match="'a', 'b'"):
        choice.convert("c", None, None)
    assert calls == [1]


def test_train_head_choices_are_the_head_registry() -> None:
    from cinefeat.fuse.heads import head_choices

    train = main.commands["train"]
    head = next(p for p in train.params if p.name == "head_name")
    assert isinstance(head.type, LazyChoice)
    assert list(head.type.choices) == list(head_choices())


@pytest.mark.parametrize(
    "package",
    [
        "cinefeat.store",
        "cinefeat.store.archive",
        "cinefeat.fuse.similarity",
        "cinefeat.fuse.zeroshot",
    ],
)
def test_every_lazy_export_resolves(package: str) -> None:
    import importlib

    module = importlib.import_module(package)
    for name in module.__all__:
        assert getattr(module, name) is not None, name
        assert name in dir(module)
    with pytest.raises(AttributeError, match="no attribute 'not_a_name'"):
        module.not_a_name  # noqa: B018


def test_suggest_threshold_default_is_the_suggest_module_default() -> None:
    from cinefeat.fuse.similarity.cli import SUGGEST_THRESHOLD
    from cinefeat.fuse.similarity.suggest import DEFAULT_THRESHOLD

    assert SUGGEST_THRESHOLD == DEFAULT_THRESHOLD


def test_the_no_labels_message_names_a_command_and_flags_that_exist() -> None:
    from cinefeat.store.errors import NO_LABELS

    # "... `cinefeat extract DATASET --store STORE --features SAME_FEATURES --labels FILE` ..."
    words = NO_LABELS.split("`")[1].split()
    assert words[:2] == ["cinefeat", "extract"]
    extract = main.commands["extract"]
    known = {opt for p in extract.params for opt in getattr(p, "opts", [])}
    flags = [w for w in words if w.startswith("--")]
    assert flags and set(flags) <= known, set(flags) - known


def test_device_help_is_shared() -> None:
    helps = {o.help for _, o in options() if "--device" in o.opts}
    assert helps == {cli_options.DEVICE_HELP}
