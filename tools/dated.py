"""Value histories: a rate, cap, threshold or tier list that changes on a date, each value with its clause.

In a rules file a field may hold one value (`cap_yuan: 300000`) or its history, OpenFisca-style:

    cap_yuan:
      - {value: 300000, from: 2026-01-01, clause_id: "yx-measures:art1", phrase: 每家企业每年最高不超过30万元}
      - {value: 400000, from: 2027-07-01, clause_id: "yx-supplement:1", phrase: 调整为每家企业每年最高不超过40万元}

A value applies from its `from` until the next value's `from` (or its own `to`). `resolve(model, day)` returns the
model with every history replaced by the value for `day` and the entries used. After the last value's `to` the last
value still prices the activity of the period it covered: expiry is reported as validity and never changes worth.
"""
from __future__ import annotations

import datetime as dt
from typing import Any, Generic, TypeVar, Union

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")


class DatedValue(BaseModel, Generic[T]):
    """One value of a history: in force from `from` (open when absent) to `to` (open when absent)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    value: T
    from_: dt.date | None = Field(default=None, alias="from")
    to: dt.date | None = None
    clause_id: str | None = None
    phrase: str = ""

    def covers(self, day: dt.date) -> bool:
        return (self.from_ is None or self.from_ <= day) and (self.to is None or day <= self.to)


# A field that holds one value or its history.
Dated = Union[T, list[DatedValue[T]]]


def is_history(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, DatedValue) for v in value)


def pick(history: list[DatedValue], day: dt.date | None) -> DatedValue:
    """The entry in force on `day` (the latest one when `day` is None); after the last entry ends, the last one;
    before the first begins, the first one."""
    ordered = sorted(history, key=lambda v: v.from_ or dt.date.min)
    if day is None:
        return ordered[-1]
    covering = [v for v in ordered if v.covers(day)]
    if covering:
        return covering[-1]
    started = [v for v in ordered if v.from_ is None or v.from_ <= day]
    return started[-1] if started else ordered[0]


def histories(obj: Any, path: str = "") -> list[tuple[str, list[DatedValue]]]:
    """Every history inside a model (dotted path, entries)."""
    out: list[tuple[str, list[DatedValue]]] = []
    if is_history(obj):
        out.append((path, obj))
    elif isinstance(obj, BaseModel):
        for name in type(obj).model_fields:
            out += histories(getattr(obj, name), f"{path}.{name}" if path else name)
    elif isinstance(obj, (list, tuple)):
        for i, item in enumerate(obj):
            out += histories(item, f"{path}[{i}]")
    elif isinstance(obj, dict):
        for key, item in obj.items():
            out += histories(item, f"{path}.{key}")
    return out


def resolve(obj: Any, day: dt.date | None, used: list[DatedValue] | None = None) -> Any:
    """`obj` with every history replaced by its value on `day`; the entries used are appended to `used`."""
    if is_history(obj):
        entry = pick(obj, day)
        if used is not None:
            used.append(entry)
        return resolve(entry.value, day, used)
    if isinstance(obj, BaseModel):
        update = {}
        for name in type(obj).model_fields:
            value = getattr(obj, name)
            new = resolve(value, day, used)
            if new is not value:
                update[name] = new
        return obj.model_copy(update=update) if update else obj
    if isinstance(obj, list):
        new_items = [resolve(item, day, used) for item in obj]
        return new_items if any(a is not b for a, b in zip(new_items, obj)) else obj
    if isinstance(obj, dict):
        new_map = {k: resolve(v, day, used) for k, v in obj.items()}
        return new_map if any(new_map[k] is not obj[k] for k in obj) else obj
    return obj


def boundaries(history: list[DatedValue]) -> list[dt.date]:
    """Days on which a history changes value (each `from`, and the day after each `to`)."""
    days = []
    for v in history:
        if v.from_ is not None:
            days.append(v.from_)
        if v.to is not None and v.to < dt.date.max:
            days.append(v.to + dt.timedelta(days=1))
    return days


def history_problems(history: list[DatedValue]) -> list[str]:
    """Order and overlap: entries sorted by `from`, only the first may be open at the start, none overlap."""
    problems = []
    froms = [v.from_ for v in history]
    if any(f is None for f in froms[1:]):
        problems.append("只有第一个取值可以省略起始日期 from")
    dated = [f for f in froms if f is not None]
    if dated != sorted(dated) or len(set(dated)) != len(dated):
        problems.append("取值应按起始日期 from 递增排列，且起始日期不能重复")
    for a, b in zip(history, history[1:]):
        if a.to is not None and b.from_ is not None and a.to >= b.from_:
            problems.append(f"取值期间重叠：{a.to} 之后才能开始下一个取值（{b.from_}）")
        if a.from_ is not None and a.to is not None and a.to < a.from_:
            problems.append(f"取值的截止日期 {a.to} 早于起始日期 {a.from_}")
    return problems
