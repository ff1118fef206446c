import subprocess
import sys
from pathlib import Path

import pytest

from lingualift import __version__
from lingualift.cli import app, main


def command_names():
    import typer.main

    return sorted(typer.main.get_command(app).commands)


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"lingualift {__version__}"


@pytest.mark.parametrize("command", [[]] + [[name] for name in ["languages", "run"]])
def test_help_explains_every_command(capsys, command):
    assert main(command + ["--help"]) == 0
    out = capsys.readouterr().out
    assert "Usage: lingualift" in out
    assert len(out.splitlines()) > 5


def test_every_command_has_a_help_text():
    import typer.main

    for name, command in typer.main.get_command(app).commands.items():
        assert command.help and len(command.help) > 40, name


def test_user_error_is_one_line_with_exit_code_2(capsys):
    assert main(["languages", "--lang", "xx"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: unknown language 'xx'")
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_debug_shows_the_traceback():
    from lingualift.errors import LanguageError

    with pytest.raises(LanguageError):
        main(["--debug", "languages", "--lang", "xx"])


def test_unknown_command_is_a_usage_error(capsys):
    assert main(["bogus"]) == 2


def test_languages_for_one_language_shows_every_backend(capsys):
    assert main(["languages", "--lang", "zh-Hant"]) == 0
    out = capsys.readouterr().out
    assert "zho_Hant" in out and "cmn_Hant" in out and "unsupported" in out


def test_languages_for_one_backend_lists_its_codes(capsys):
    assert main(["languages", "--backend", "nllb"]) == 0
    out = capsys.readouterr().out
    assert "nllb: 202 languages" in out and "nld_Latn" in out


def test_invalid_run_config_names_the_key(tmp_path, capsys):
    config = tmp_path / "pipeline.yaml"
    config.write_text("limit: 0\nmodle: demo\n")
    assert main(["run", str(config)]) == 2
    err = capsys.readouterr().err.strip()
    assert "limit: input should be greater than 0" in err
    assert "modle: extra inputs are not permitted" in err
    assert len(err.splitlines()) == 1


def test_installed_console_script_runs():
    script = Path(sys.executable).parent / "lingualift"
    result = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.strip() == f"lingualift {__version__}"


@pytest.mark.parametrize(
    "argv",
    [
        ["chat", "no/such-model", "--prompt", "hi"],
        ["serve", "no/such-model"],
        ["eval", "fidelity", "--model", "no/such-model", "--lang", "nl", "--prompts", "{prompts}"],
        ["eval", "regression", "--model", "no/such-model", "--baseline", "b", "--data", "{prompts}"],
        ["eval", "harness", "--model", "no/such-model", "--tasks", "t"],
        ["generate", "--docs", "{prompts}", "--lang", "nl", "--out", "{tmp}/o", "--model", "no/such-model"],
    ],
)
@pytest.mark.parametrize(
    "flags, message",
    [(["--quant8"], "runs on a CUDA GPU only"), (["--quant8", "--device", "cpu"], "runs on a CUDA GPU only")],
)
def test_every_command_that_loads_a_model_takes_the_device_and_quantization_flags(
    argv, flags, message, tmp_path, capsys, monkeypatch
):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("Hoe gaat het?\n")
    argv = [a.format(prompts=prompts, tmp=tmp_path) for a in argv]
    assert main(argv + flags) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err


def test_verbose_undoes_what_a_quiet_parent_set_but_never_what_the_user_set(monkeypatch):
    import os

    from lingualift import terminal

    for name in (*terminal.LIBRARY_SWITCHES, terminal.SET_BY_US):  # as in a fresh shell
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # the user's own choice
    terminal.configure(verbose=False)
    assert os.environ["TQDM_DISABLE"] == "1" and terminal.quiet()
    inherited = dict(os.environ)  # what a process we start sees
    monkeypatch.setattr(os, "environ", inherited)
    terminal.configure(verbose=True)
    assert inherited["TQDM_DISABLE"] == "0" and not terminal.quiet()
    assert inherited["HF_HUB_DISABLE_PROGRESS_BARS"] == "1"
