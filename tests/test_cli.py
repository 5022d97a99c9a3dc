"""The `galfast` command: every subcommand registered, shared options named alike everywhere."""
import subprocess
import sys

import pytest

from galfast.cli import build_parser, main


def _subparsers(parser):
    import argparse

    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                nested = list(_subparsers(sub))
                if nested:
                    for n, s in nested:
                        yield f"{name} {n}", s
                else:
                    yield name, sub


def _options(sub):
    return {opt for a in sub._actions for opt in a.option_strings}


COMMANDS = dict(_subparsers(build_parser()))


def test_every_capability_has_a_subcommand():
    assert {"demo", "photoz", "props train", "props predict", "simulate"} <= set(COMMANDS)


@pytest.mark.parametrize("name", ["photoz", "props predict", "simulate"])
def test_streaming_commands_share_their_output_options(name):
    opts = _options(COMMANDS[name])
    shared = ["--out", "--chunk-rows", "--overwrite", "--no-resume", "--no-progress", "--quiet",
              "--jobs", "--threads", "--column-map"]
    for flag in shared + (["--bands"] if name != "props predict" else []):   # predict: the model's bands
        assert flag in opts, (name, flag)


@pytest.mark.parametrize("name", ["photoz", "props predict", "props train"])
def test_catalogue_commands_take_catalog_and_column_map(name):
    opts = _options(COMMANDS[name])
    assert {"--catalog", "--column-map", "--jobs", "--threads", "--no-progress"} <= opts


def test_old_flag_names_still_work_as_aliases():
    assert "--target" in _options(COMMANDS["photoz"])
    assert "--quiet" in _options(COMMANDS["simulate"]) and "--threads" in _options(COMMANDS["simulate"])


def test_errors_are_one_line_with_exit_status_1(tmp_path, capsys):
    junk = tmp_path / "junk.parquet"
    junk.write_bytes(b"not parquet")
    rc = main(["photoz", "--catalog", str(junk), "--model", str(tmp_path / "nope.safetensors"),
               "--out", str(tmp_path / "o.parquet")])
    err = capsys.readouterr().err
    assert rc == 1 and err.startswith("galfast photoz: error:") and "nope.safetensors" in err


def test_console_script_runs():
    r = subprocess.run([sys.executable, "-m", "galfast.cli", "--version"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith("galfast ")
