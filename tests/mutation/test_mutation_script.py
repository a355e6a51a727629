"""scripts/mutation.py's own logic, without mutmut: which mutants a group (and --names) scores, the
reasons file it reads, and the hand-written mutants of issue 17 still applying to today's sources."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "mutation.py"


@pytest.fixture(scope="module")
def script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("mutation_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


def _pipeline(script: ModuleType):
    return next(group for group in script.GROUPS if group.name == "pipeline")


def test_names_narrow_the_group_and_never_widen_it(script) -> None:
    group = _pipeline(script)
    schedule = "sandbox.pipeline.schedule.xǁScheduleǁfinish__mutmut_3"
    run = "sandbox.pipeline.run.x__phases__mutmut_1"
    outside = "sandbox.pipeline.run.x__not_in_the_group__mutmut_1"
    assert script._in_scope(schedule, group) and script._in_scope(run, group)
    assert not script._in_scope(outside, group)
    only = ("sandbox.pipeline.schedule.*",)
    assert script._in_scope(schedule, group, only) and not script._in_scope(run, group, only)
    assert not script._in_scope(outside, group, ("*",))


def test_every_named_mutant_applies_once_to_todays_source(script) -> None:
    # a pattern that no longer matches stops `--named` at that mutant (the phase stop moved once)
    for mutant in script.NAMED:
        text = (script.ROOT / mutant.path).read_text()
        assert len(re.findall(mutant.pattern, text)) == 1, mutant.name


def test_the_reasons_file_expands_each_listed_number(script) -> None:
    names = script.equivalent_names()
    stem = "sandbox.pipeline.run.x__on_cancel__mutmut_"
    assert {f"{stem}16", f"{stem}19", f"{stem}20"} <= set(names) and f"{stem}17" not in names
    assert script.explained(f"{stem}20", names) and not script.explained(f"{stem}17", names)


def test_a_group_never_run_has_no_score(script, tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setattr(script, "WORK", tmp_path / "mutation")
    code = script.main(["--score-only", "--module", "pipeline", "--names", "sandbox.pipeline.schedule.*"])
    assert code == 1 and "never run here" in capsys.readouterr().out


def test_a_missing_mutmut_is_an_environment_error_with_the_install_line(script, monkeypatch, capsys) -> None:
    monkeypatch.setattr(script, "_mutmut_path", lambda: Path("/nowhere/mutmut"))
    assert script.main(["--module", "pipeline"]) == 2
    assert 'install "mutmut>=3.3,<4"' in capsys.readouterr().err


def test_a_second_run_of_a_group_refuses_while_the_first_holds_it(script, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(script, "WORK", tmp_path / "mutation")
    group = _pipeline(script)
    with script._group_lock(group):
        with pytest.raises(SystemExit, match="another run of group pipeline"):
            script.run_group(group, 1)
    with script._group_lock(group):  # released: the next run takes it
        pass
