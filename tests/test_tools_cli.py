"""`policy-assistant programs | calc | eligibility` through the real entry point in a subprocess."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PYTHON = REPO / ".venv" / "bin" / "python"

pytestmark = pytest.mark.integration


def _run(*args: str) -> subprocess.CompletedProcess:
    python = str(PYTHON) if PYTHON.exists() else sys.executable
    return subprocess.run([python, "-m", "policy_assistant", *args], cwd=REPO, capture_output=True, text=True,
                          encoding="utf-8", timeout=120)


def test_calc_json():
    """80万 × 50% = 40万; the measures expired on 2025-12-31 but the amount stands."""
    proc = _run("calc", "xm-compute-voucher", "--fact", "compute_purchase_yuan=80万", "--as-of", "2026-11-22", "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["amount_yuan"] == 400000 and data["eligible"] is True
    assert data["validity"]["status"] == "expired"


def test_calc_human_and_errors():
    proc = _run("calc", "sm-compute", "--fact", "compute_purchase_yuan=80万", "--fact", "compute_listed_on_platform=是",
                "--as-of", "2025-06-01")
    assert proc.returncode == 0, proc.stderr
    assert "最高可获得：8万元" in proc.stdout and "AI券" in proc.stdout
    bad = _run("calc", "sm-compute", "--fact", "compute_purchase_yuan=-8万")
    assert bad.returncode == 2
    assert "负数" in bad.stderr and "Traceback" not in bad.stderr
    unknown = _run("calc", "no-such-program")
    assert unknown.returncode == 2 and "未找到补助项目" in unknown.stderr and "Traceback" not in unknown.stderr


def test_programs_and_eligibility():
    proc = _run("programs", "--json")
    assert proc.returncode == 0, proc.stderr
    assert len(json.loads(proc.stdout)) == 38
    proc = _run("eligibility", "--profile", "corpus/examples/profile-siming.yaml", "--as-of", "2025-06-01")
    assert proc.returncode == 0, proc.stderr
    assert "符合条件（6）" in proc.stdout and "火炬高新区" in proc.stdout
    missing = _run("eligibility", "--profile", "nope.yaml")
    assert missing.returncode == 2 and "找不到" in missing.stderr and "Traceback" not in missing.stderr
