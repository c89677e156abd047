"""What the edge refuses before any handler runs: JSON that is not plain data, text no person typed.

`check_json_body(raw)` parses a request body strictly (no NaN/Infinity, no number that overflows a float or is longer
than MAX_DIGITS, no lone UTF-16 surrogate, no NUL, bounded nesting) and returns a Chinese reason or None.
`check_text(text)` applies the same character rules to a question or a query string and also refuses text with
nothing visible in it. Both are pure functions; `ui.edge` calls them for every route, the Gradio app included.
"""
from __future__ import annotations

import json
import math
import re
from typing import Any

MAX_DIGITS = 30  # a longer numeral is no amount, count or id anyone types (credit codes are 18 characters)
MAX_DEPTH = 32
MAX_INT = 2**63 - 1

_SURROGATE = re.compile(r"[\ud800-\udfff]")
_DIGIT_RUN = re.compile(r"[0-9０-９]{%d,}" % (MAX_DIGITS + 1))
# zero-width and other invisible format characters; text made only of these (and spaces) says nothing
_INVISIBLE = re.compile(r"[\s\u200b-\u200f\u2028-\u202f\u2060-\u2064\ufeff\u00ad\u180e\u3000]+")


class InputRefused(ValueError):
    """Input the edge refuses; `message` is Chinese and names the problem, `code` is stable."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def _refuse_constant(name: str) -> Any:
    raise InputRefused("invalid_number", f"请求中含有无效数字“{name}”：请使用普通的有限数字。")


def _parse_float(text: str) -> float:
    whole = text.lstrip("-").lower().split("e")[0].split(".")[0]
    if len(whole) > MAX_DIGITS:
        raise InputRefused("number_too_long", f"请求中的数字过长（超过 {MAX_DIGITS} 位）。")
    value = float(text)
    if not math.isfinite(value):
        raise InputRefused("invalid_number", f"请求中的数字超出范围（{text[:20]}）：请使用普通的有限数字。")
    return value


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_DIGITS:
        raise InputRefused("number_too_long", f"请求中的数字过长（超过 {MAX_DIGITS} 位）。")
    return int(text)


def check_string(value: str, *, field: str = "请求") -> None:
    """Characters no client should send: lone surrogates (cannot be stored or logged), NUL, absurd numerals."""
    if _SURROGATE.search(value):
        raise InputRefused("invalid_characters", f"{field}中含有无效字符（不成对的 UTF-16 代理项），请检查输入的文字。")
    if "\x00" in value:
        raise InputRefused("invalid_characters", f"{field}中含有无效的空字符（NUL），请检查输入的文字。")
    if _DIGIT_RUN.search(value):
        raise InputRefused("number_too_long", f"{field}中的数字过长（超过 {MAX_DIGITS} 位），请填写实际金额或数量。")


def _walk(value: Any, depth: int = 0) -> None:
    if depth > MAX_DEPTH:
        raise InputRefused("too_deep", f"请求的 JSON 嵌套过深（超过 {MAX_DEPTH} 层）。")
    if isinstance(value, str):
        check_string(value)
    elif isinstance(value, bool) or value is None or isinstance(value, float):
        return
    elif isinstance(value, int):
        if abs(value) > MAX_INT:
            raise InputRefused("number_too_large", "请求中的整数超出范围。")
    elif isinstance(value, list):
        for item in value:
            _walk(item, depth + 1)
    elif isinstance(value, dict):
        for key, item in value.items():
            check_string(key)
            _walk(item, depth + 1)


def parse_json_body(raw: bytes) -> Any:
    """The body as JSON, or InputRefused with a Chinese reason."""
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputRefused("invalid_encoding", "请求体不是有效的 UTF-8 文本。") from None
    # nesting is bounded before parsing: the parser recurses once per level
    if _max_depth(text) > MAX_DEPTH:
        raise InputRefused("too_deep", f"请求的 JSON 嵌套过深（超过 {MAX_DEPTH} 层）。")
    try:
        value = json.loads(text, parse_constant=_refuse_constant, parse_float=_parse_float, parse_int=_parse_int)
    except InputRefused:
        raise
    except (ValueError, RecursionError):
        raise InputRefused("json_invalid", "请求体不是有效的 JSON。") from None
    _walk(value)
    return value


def _max_depth(text: str) -> int:
    """Bracket depth outside strings (a cheap scan; exact enough to bound the parser's recursion)."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > MAX_DEPTH:
                    return deepest
        elif ch in "]}":
            depth -= 1
    return deepest


def check_text(text: str, *, field: str = "问题", max_chars: int | None = None) -> str:
    """A question or query as a person typed it: stripped, visible, bounded; InputRefused otherwise."""
    check_string(text, field=field)
    stripped = text.strip()
    if not _INVISIBLE.sub("", stripped):
        if stripped:
            raise InputRefused("empty_question", f"{field}只包含空白或不可见字符，请输入您想咨询的内容。")
        raise InputRefused("empty_question", f"{field}不能为空，请输入您想咨询的内容。")
    if max_chars is not None and len(stripped) > max_chars:
        raise InputRefused("question_too_long",
                           f"{field}过长：最多 {max_chars} 个字符，当前 {len(stripped)} 个字符，请精简后再提问。")
    return stripped
