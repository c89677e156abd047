"""Load the gold cases (evals/gold/*.yaml) and run them through `Services.ask`, deterministically and offline.

A case is one question or a multi-turn dialogue (`turns:`); every turn carries its own expectations (see
`Expect`). File-level `defaults:` apply to every case (and, in multi-turn files, to every turn) unless the case or
turn sets the key. The runner only records what the assistant returned and how long it took; scoring lives in
`evals.metrics`, reading in `evals.report`.
"""
from __future__ import annotations

import datetime as dt
import time
import traceback
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from corpus.yamlio import load_yaml

EVALS_DIR = Path(__file__).resolve().parent
GOLD_DIR = EVALS_DIR / "gold"
BLIND_DIR = EVALS_DIR / "blind"
# Every case set by name: the gold set, and the blind splits written from the document texts alone. Each new split was
# held out (frozen before any answer to it was seen) and measured before it was used to find failing classes; blind6 is
# the last one (first measured 0.709).
CASE_SETS = {"gold": GOLD_DIR, "blind": BLIND_DIR, "blind2": EVALS_DIR / "blind2", "blind3": EVALS_DIR / "blind3",
             "blind4": EVALS_DIR / "blind4", "blind5": EVALS_DIR / "blind5", "blind6": EVALS_DIR / "blind6"}
BLIND_SETS = ("blind", "blind2", "blind3", "blind4", "blind5", "blind6")
FIXTURES_DIR = EVALS_DIR / "fixtures"
DEFAULT_AS_OF = dt.date(2026, 11, 22)

GOLD_STRATA = (
    "amount", "eligibility", "lookup", "validity", "stacking", "comparison", "multiturn",
    "out_of_corpus", "no_amount", "adversarial", "bad_input",
)
# The blind split (evals/blind/): cases written from the document texts alone, one stratum per class of question
# that the understanding issue names; reported apart from the gold set.
BLIND_STRATA = (
    "binding", "multi_item", "negative", "input_forms", "time", "unanswerable", "umbrella", "profile", "dialogue",
)
STRATA = GOLD_STRATA + BLIND_STRATA
STATUSES = ("answered", "needs_info", "not_found", "refused")
VALIDITY_STATES = ("in_force", "expired", "not_yet", "window_open", "window_closed")
SPLITS = ("tune", "frozen")

# Sentinels: "any" (not checked) and "absent" (key not given).
ANY = "any"


class GoldError(ValueError):
    """A malformed gold case (raised at load time, with the case id)."""


# --- expectations --------------------------------------------------------------------------------------------

_EXPECT_KEYS = {
    "status", "amount_yuan", "program", "amounts", "eligible", "cite", "cite_ok", "cite_docs", "phrases",
    "forbid", "forbid_amounts", "must_refuse", "validity", "chinese", "note", "total_yuan",
}
_CASE_KEYS = {"id", "stratum", "type", "region", "as_of", "split", "question", "turns", "fixture"}


@dataclass(frozen=True)
class Expect:
    """What one turn's answer must satisfy. `None` fields are not checked."""

    status: tuple[str, ...] | None = None  # accepted statuses; None = any
    amount_check: str = "none"  # "none" (not checked) | "exact" | "no_amount"
    amount_yuan: int | None = None  # with amount_check == "exact"
    programs: tuple[str, ...] = ()  # the calculation(s) the amount / eligibility refer to (any of these ids)
    amounts: Mapping[str, int] = field(default_factory=dict)  # program id → exact ceiling
    total_yuan: int | None = None  # a total the answer text must state (several items / programs)
    eligible_check: bool = False
    eligible: tuple[bool | None, ...] = ()  # accepted values of the calculation's `eligible`
    cite: tuple[tuple[str, ...], ...] = ()  # groups of alternatives; each group must be cited
    cite_ok: tuple[str, ...] = ()  # further clause ids (or "doc:*") that may be cited without hurting precision
    cite_docs: tuple[str, ...] = ()  # at least one citation from each of these documents
    phrases: tuple[tuple[str, ...], ...] = ()  # groups of alternatives; each group must appear in the answer
    forbid: tuple[str, ...] = ()
    forbid_amounts: tuple[int, ...] = ()
    must_refuse: bool = False
    validity: Mapping[str, str] = field(default_factory=dict)  # doc id → in_force|expired|not_yet|window_open|window_closed
    chinese: bool = False
    note: str = ""

    @property
    def expects_refusal(self) -> bool:
        return self.must_refuse

    @property
    def expects_help(self) -> bool:
        """The gold answer is a real answer (answered / needs_info), so a refusal would be a false refusal."""
        return self.status is not None and set(self.status) <= {"answered", "needs_info"}


def _as_tuple(value: Any) -> tuple:
    if value is None:
        return ()
    if isinstance(value, (list, tuple)):
        return tuple(value)
    return (value,)


def _groups(value: Any) -> tuple[tuple[str, ...], ...]:
    """[a, [b, c]] → ((a,), (b, c)): each item is a group of alternatives."""
    return tuple(tuple(str(x) for x in item) if isinstance(item, (list, tuple)) else (str(item),) for item in _as_tuple(value))


def _eligible(value: Any, where: str) -> tuple[bool | None, ...]:
    values = tuple(value) if isinstance(value, (list, tuple)) else (value,)
    if not values or any(v not in (True, False, None) for v in values):
        raise GoldError(f"{where}: eligible must be true, false, null or a list of them")
    return values


def _parse_expect(spec: Mapping[str, Any], where: str) -> Expect:
    unknown = set(spec) - _EXPECT_KEYS
    if unknown:
        raise GoldError(f"{where}: unknown keys {sorted(unknown)}")
    status = spec.get("status", None)
    if status in (None, ANY):
        statuses = None
    else:
        statuses = tuple(_as_tuple(status))
        bad = set(statuses) - set(STATUSES)
        if bad:
            raise GoldError(f"{where}: bad status {sorted(bad)}")
    amount_check, amount = "none", None
    if "amount_yuan" in spec:
        raw = spec["amount_yuan"]
        if raw == ANY:
            amount_check = "none"
        elif raw is None:
            amount_check = "no_amount"
        elif isinstance(raw, int) and not isinstance(raw, bool) and raw >= 0:
            amount_check, amount = "exact", raw
        else:
            raise GoldError(f"{where}: amount_yuan must be a non-negative int, null or 'any', got {raw!r}")
    amounts = dict(spec.get("amounts") or {})
    for pid, value in amounts.items():
        if not isinstance(value, int):
            raise GoldError(f"{where}: amounts[{pid}] must be an int")
    validity = dict(spec.get("validity") or {})
    for doc_id, state in validity.items():
        if state not in VALIDITY_STATES:
            raise GoldError(f"{where}: validity state {state!r} not in {VALIDITY_STATES}")
    forbid_amounts = tuple(int(x) for x in _as_tuple(spec.get("forbid_amounts")))
    total = spec.get("total_yuan")
    if total is not None and (not isinstance(total, int) or isinstance(total, bool) or total < 0):
        raise GoldError(f"{where}: total_yuan must be a non-negative int, got {total!r}")
    return Expect(
        status=statuses,
        amount_check=amount_check,
        amount_yuan=amount,
        programs=tuple(str(p) for p in _as_tuple(spec.get("program"))),
        amounts=amounts,
        total_yuan=total,
        eligible_check="eligible" in spec,
        eligible=_eligible(spec.get("eligible"), where) if "eligible" in spec else (),
        cite=_groups(spec.get("cite")),
        cite_ok=tuple(str(x) for x in _as_tuple(spec.get("cite_ok"))),
        cite_docs=tuple(str(x) for x in _as_tuple(spec.get("cite_docs"))),
        phrases=_groups(spec.get("phrases")),
        forbid=tuple(str(x) for x in _as_tuple(spec.get("forbid"))),
        forbid_amounts=forbid_amounts,
        must_refuse=bool(spec.get("must_refuse", False)),
        validity=validity,
        chinese=bool(spec.get("chinese", False)),
        note=str(spec.get("note", "") or ""),
    )


@dataclass(frozen=True)
class Turn:
    question: str
    expect: Expect


@dataclass(frozen=True)
class Case:
    id: str
    stratum: str
    type: str
    region: str
    as_of: dt.date
    split: str
    turns: tuple[Turn, ...]
    fixture: str | None = None
    source: str = ""

    @property
    def multiturn(self) -> bool:
        return len(self.turns) > 1

    @property
    def must_refuse(self) -> bool:
        return any(t.expect.must_refuse for t in self.turns)


def _question(raw: Any, where: str) -> str:
    if isinstance(raw, str):
        return raw
    if isinstance(raw, Mapping) and set(raw) == {"repeat", "times"}:
        return str(raw["repeat"]) * int(raw["times"])
    raise GoldError(f"{where}: question must be a string or {{repeat, times}}")


def _date(value: Any, where: str) -> dt.date:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError as exc:
        raise GoldError(f"{where}: bad as_of {value!r}") from exc


def parse_case(raw: Mapping[str, Any], defaults: Mapping[str, Any], source: str = "") -> Case:
    case_id = str(raw.get("id") or "")
    if not case_id:
        raise GoldError(f"{source}: a case without id")
    where = f"{source}:{case_id}"
    merged_case = {**{k: v for k, v in defaults.items() if k in _CASE_KEYS}, **{k: v for k, v in raw.items() if k in _CASE_KEYS}}
    exp_defaults = {k: v for k, v in defaults.items() if k in _EXPECT_KEYS}
    unknown = set(raw) - _CASE_KEYS - _EXPECT_KEYS
    if unknown:
        raise GoldError(f"{where}: unknown keys {sorted(unknown)}")
    if "turns" in raw:
        if "question" in raw:
            raise GoldError(f"{where}: give either question or turns")
        turns = []
        for i, t in enumerate(raw["turns"], start=1):
            t = dict(t)
            q = _question(t.pop("question", None), f"{where}#{i}")
            case_level = {k: v for k, v in raw.items() if k in _EXPECT_KEYS}
            turns.append(Turn(q, _parse_expect({**exp_defaults, **case_level, **t}, f"{where}#{i}")))
    else:
        if "question" not in raw:
            raise GoldError(f"{where}: no question")
        expect = _parse_expect({**exp_defaults, **{k: v for k, v in raw.items() if k in _EXPECT_KEYS}}, where)
        turns = [Turn(_question(raw["question"], where), expect)]
    stratum = str(merged_case.get("stratum") or "")
    if stratum not in STRATA:
        raise GoldError(f"{where}: stratum {stratum!r} not in {STRATA}")
    split = str(merged_case.get("split") or "")
    if split not in SPLITS:
        raise GoldError(f"{where}: split must be one of {SPLITS}")
    return Case(
        id=case_id,
        stratum=stratum,
        type=str(merged_case.get("type") or stratum),
        region=str(merged_case.get("region") or "none"),
        as_of=_date(merged_case.get("as_of", DEFAULT_AS_OF), where),
        split=split,
        turns=tuple(turns),
        fixture=merged_case.get("fixture"),
        source=source,
    )


def load_cases(gold_dir: Path | str = GOLD_DIR, *, split: str = "all", strata: Iterable[str] | None = None,
               ids: Iterable[str] | None = None) -> list[Case]:
    """All gold cases, in file order (files sorted by name), filtered by split / strata / ids."""
    gold_dir = Path(gold_dir)
    cases: list[Case] = []
    seen: set[str] = set()
    for path in sorted(gold_dir.glob("*.yaml")):
        data = load_yaml(path.read_text(encoding="utf-8")) or {}
        defaults = data.get("defaults") or {}
        for raw in data.get("cases") or []:
            case = parse_case(raw, defaults, source=path.name)
            if case.id in seen:
                raise GoldError(f"duplicate case id {case.id}")
            seen.add(case.id)
            cases.append(case)
    if split not in ("all", *SPLITS):
        raise GoldError(f"split must be all|tune|frozen, got {split!r}")
    if split != "all":
        cases = [c for c in cases if c.split == split]
    if strata:
        wanted = set(strata)
        cases = [c for c in cases if c.stratum in wanted]
    if ids:
        wanted_ids = set(ids)
        cases = [c for c in cases if c.id in wanted_ids or any(c.id.startswith(i.rstrip("*")) for i in wanted_ids if i.endswith("*"))]
    return cases


# --- running -------------------------------------------------------------------------------------------------

@dataclass
class TurnRun:
    question: str
    answer: Any | None  # tools.schema.Answer
    latency_ms: float
    error: str | None = None


@dataclass
class CaseRun:
    case: Case
    turns: list[TurnRun]
    fixture_used: bool = True  # False when the case needs a fixture index that was not supplied


class Asker:
    """Anything with Services' `ask(question, *, session_id=None, as_of=None) -> Answer`."""

    def ask(self, question: str, *, session_id: str | None = None, as_of: dt.date | None = None):  # pragma: no cover
        raise NotImplementedError


def run_case(case: Case, asker: Any, *, session_prefix: str = "eval") -> list[TurnRun]:
    session_id = f"{session_prefix}-{case.id}-{uuid.uuid4().hex[:8]}"
    runs: list[TurnRun] = []
    for turn in case.turns:
        start = time.perf_counter()
        try:
            answer = asker.ask(turn.question, session_id=session_id, as_of=case.as_of)
            error = None
            if getattr(answer, "error", None) in ("internal_error", "guard_failed"):
                error, answer = f"{answer.error}: {answer.answer}", None  # caught inside the agent, still a failure
        except Exception as exc:  # an exception is a failed turn, recorded, never a crashed eval
            answer = None
            error = f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=3)}"
        latency = (time.perf_counter() - start) * 1000.0
        runs.append(TurnRun(turn.question, answer, latency, error))
    return runs


def run_cases(cases: Sequence[Case], asker: Any, *, fixtures: Mapping[str, Any] | None = None,
              progress: Callable[[int, int, Case], None] | None = None, warmup: bool = True) -> list[CaseRun]:
    """Run every case through `asker` (fixture cases through `fixtures[name]` when given)."""
    fixtures = fixtures or {}
    if warmup and cases:
        # first-call costs (model/index loading) are not answer latency
        try:
            asker.ask("厦门算力券怎么申请", session_id=f"eval-warmup-{uuid.uuid4().hex[:6]}", as_of=DEFAULT_AS_OF)
        except Exception:
            pass
        for fx in {id(a): a for a in fixtures.values()}.values():
            try:
                fx.ask("厦门算力券怎么申请", session_id=f"eval-warmup-{uuid.uuid4().hex[:6]}", as_of=DEFAULT_AS_OF)
            except Exception:
                pass
    results: list[CaseRun] = []
    for i, case in enumerate(cases):
        target, used = asker, True
        if case.fixture:
            if case.fixture in fixtures:
                target = fixtures[case.fixture]
            else:
                used = False
        results.append(CaseRun(case, run_case(case, target), fixture_used=used))
        if progress:
            progress(i + 1, len(cases), case)
    return results


# --- services --------------------------------------------------------------------------------------------------

def offline_settings(settings=None, **overrides):
    """Settings with no LLM configured (the offline agent), whatever the environment says."""
    from policy_assistant.settings import Settings

    base = settings or Settings.from_env()
    return base.model_copy(update={"llm_base_url": None, "llm_model": None, **overrides})


def make_services(agent: str = "offline", settings=None):
    """`Services` for the requested agent: 'offline' forces the offline agent, 'llm' requires a configured LLM."""
    from policy_assistant.services import Services
    from policy_assistant.settings import Settings

    if agent == "offline":
        return Services(offline_settings(settings))
    if agent == "llm":
        settings = settings or Settings.from_env()
        if not settings.llm_enabled:
            raise RuntimeError("未配置大模型：请设置 POLICY_LLM_BASE_URL、POLICY_LLM_MODEL 以及 API Key 环境变量后再使用 --agent llm")
        return Services(settings)
    raise ValueError(f"unknown agent {agent!r}")


def poisoned_fixture_dir() -> Path:
    return FIXTURES_DIR / "poisoned"


def seed_vector_cache(source_settings, target_settings) -> bool:
    """Copy the source index's vector cache into the target data dir (vectors are keyed by text, so this only
    saves embedding time). Returns True when something was copied."""
    import shutil

    src = Path(source_settings.index_dir) / "cache"
    dst = Path(target_settings.index_dir) / "cache"
    if not src.is_dir() or dst.exists() or src.resolve() == dst.resolve():
        return False
    shutil.copytree(src, dst)
    return True


def build_index(settings, *, extra_corpus_dir: Path | str | None = None):
    """Build (or confirm, when up to date) the index for `settings`; returns the index author's BuildReport."""
    from index import build_index as _build

    kwargs: dict[str, Any] = {"progress": False}
    if extra_corpus_dir is not None:
        kwargs["extra_corpus_dir"] = str(extra_corpus_dir)
    return _build(settings, **kwargs)


def build_fixture_index(settings, fixture: str = "poisoned", *, data_dir: Path | str | None = None):
    """A separate index (own data dir) holding the corpus plus the fixture's test-only document.

    Returns Settings pointing at that data dir; the served index of `settings` is never touched. The vector cache
    is seeded from `settings`' index so only the fixture's clauses are embedded.
    """
    target = Path(data_dir) if data_dir else Path(settings.data_dir) / "eval-fixtures" / fixture
    fx_settings = settings.model_copy(update={"data_dir": target})
    seed_vector_cache(settings, fx_settings)
    build_index(fx_settings, extra_corpus_dir=FIXTURES_DIR / fixture)
    return fx_settings
