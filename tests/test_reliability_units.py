"""Fast checks of the reliability harness itself (the real-server suite is tests/test_reliability.py)."""
from __future__ import annotations

from policy_assistant.reliability import scenarios
from policy_assistant.settings import REPO_ROOT


def test_against_runs_the_tree_under_test_from_any_working_directory(tmp_path, monkeypatch):
    """`bench --reliability --against OLD` run from inside this checkout must still serve OLD: `python -m` puts the
    working directory ahead of PYTHONPATH, so without -P semantics the "before" column measured this tree again."""
    old = tmp_path / "old"
    (old / "policy_assistant").mkdir(parents=True)
    (old / "policy_assistant" / "__init__.py").write_text("", encoding="utf-8")
    (old / "policy_assistant" / "__main__.py").write_text("print('old tree')", encoding="utf-8")
    monkeypatch.chdir(REPO_ROOT)
    runner = scenarios.Runner(tmp_path / "shared", tmp_path / "runs", old)
    done = runner.command(tmp_path / "data", "index", "status", timeout_s=60)
    assert done.stdout.strip() == "old tree", done.stdout[-300:] + done.stderr[-300:]
