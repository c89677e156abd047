"""Result types shared by the calculator, the agent, the API and the evals (the JSON contract's pieces)."""
from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Citation(BaseModel):
    """A clause the answer relied on: official title, 文号 ('' if none), label path, verbatim text."""

    model_config = ConfigDict(extra="forbid")

    id: str
    document: str
    doc_number: str
    clause: str
    text: str

    @classmethod
    def from_clause_id(cls, clause_id: str) -> "Citation":
        from corpus import get_clause, get_document

        clause = get_clause(clause_id)
        doc = get_document(clause.doc_id)
        return cls(id=clause.id, document=doc.title, doc_number=doc.doc_number, clause=clause.label_path, text=clause.text)


class Validity(BaseModel):
    """A document's standing on the as-of date; reported beside amounts, never folded into them."""

    model_config = ConfigDict(extra="forbid")

    document: str
    doc_id: str
    # unstated: the document states no validity (a call for applications); its window says what can be done
    status: Literal["in_force", "expired", "not_yet", "unstated"]
    effective_from: dt.date | None = None  # only dates the document states
    effective_to: dt.date | None = None
    window_open: bool | None = None
    window_closes: dt.date | None = None
    window_closes_time: str | None = None
    replaced_by: str | None = None  # the document that revised or repealed this one, on or before the as-of date
    replaced_from: dt.date | None = None
    replaced_kind: Literal["supersede", "repeal"] | None = None
    message: str = ""
    expiring_soon: bool = Field(default=False, description="in force and ending within EXPIRING_SOON_DAYS (即将到期)")


class Calculation(BaseModel):
    """One program's verdict and ceiling amount. `eligible` reflects the enterprise's conditions only."""

    model_config = ConfigDict(extra="forbid")

    program_id: str
    program: str
    eligible: bool | None
    amount_yuan: int | None = Field(description="the ceiling (最高可获得), integer yuan; None when not computable")
    steps: list[str] = Field(default_factory=list)
    missing: list[str] = Field(default_factory=list)
    unmet: list[str] = Field(default_factory=list)
    assumptions: list[str] = Field(default_factory=list)
    citations: list[Citation] = Field(default_factory=list)
    # beyond the minimal contract, for UI and answers
    beneficiary: str = "企业"
    amount_kind: Literal["award", "loan", "none"] = "award"
    period: str = ""
    payment_form: str = ""
    notes: list[str] = Field(default_factory=list)
    validity: Validity | None = None
    # added by tools.calculator (additive): fact names behind `missing`, the amount if unknown conditions hold,
    # the formula in words, required materials and application info from the rules
    missing_facts: list[str] = Field(default_factory=list)
    # `missing` with the threshold the rule sets for each (“新增单体智能算力规模（P）：400P（含）以上”)
    missing_details: list[str] = Field(default_factory=list)
    potential_amount_yuan: int | None = None
    formula: str = ""
    materials: list[str] = Field(default_factory=list)
    application: str = ""


class Total(BaseModel):
    """A sum of calculator ceilings (several programs, items or years), computed by `tools.calculator.total`."""

    model_config = ConfigDict(extra="forbid")

    label: str
    amount_yuan: int
    program_ids: list[str] = Field(default_factory=list)
    parts_yuan: list[int] = Field(default_factory=list)
    steps: list[str] = Field(default_factory=list)
    in_force: bool | None = Field(default=None, description="all summed programs can still be applied for")


FactOrigin = Literal["question", "earlier_turn", "assumed", "corrected"]


class FactRead(BaseModel):
    """One fact an answer computed with, as read: the rules' label, the value as used (unit, year), the words of the
    question it came from, and where it came from (this question, an earlier turn, a rule's presumption, or a
    correction the person made)."""

    model_config = ConfigDict(extra="forbid")

    fact: str
    label: str
    value: Any = Field(description="as the calculator used it: integer yuan, '25%', '500P', true/false, a choice key "
                                   "(or keys), an ISO date")
    display: str = Field(description="the value in Chinese, e.g. 80万元, 是, 三级")
    unit: str
    year: int | None = None
    source_text: str = ""
    origin: FactOrigin
    choices: list[dict[str, str]] = Field(default_factory=list, description="for choice facts: key and label")


Status = Literal["answered", "needs_info", "not_found", "refused"]


class Answer(BaseModel):
    """What `ask --json`, POST /api/chat and the evals exchange."""

    model_config = ConfigDict(extra="forbid")

    question: str
    answer: str
    status: Status
    citations: list[Citation] = Field(default_factory=list)
    calculations: list[Calculation] = Field(default_factory=list)
    validity: list[Validity] = Field(default_factory=list)
    totals: list[Total] = Field(default_factory=list, description="sums of calculator ceilings stated in the answer")
    session_id: str = ""
    error: str | None = Field(default=None, description="machine code for bad input, e.g. empty_question")
    facts_read: list[FactRead] = Field(default_factory=list, description="the facts the calculations used, as read")
    facts_override: dict[str, Any] | None = Field(
        default=None, description="corrections applied in this answer (fact name → value as used; null removes it)")

    def contract_dict(self) -> dict:
        """The JSON contract of issue #4 (calculation items trimmed to the documented keys plus extras)."""
        data = self.model_dump(mode="json")
        for calc in data["calculations"]:
            calc.pop("validity", None)
        for v in data["validity"]:
            v.pop("doc_id", None)
            v.pop("message", None)
        if data.get("error") is None:
            data.pop("error", None)
        if data.get("facts_override") is None:
            data.pop("facts_override", None)
        return data
