"""The bad-input corpus: requests no server should answer with a hang, a 5xx or an amount.

Each case is (name, method, path, body bytes or None, content type). Bodies are raw bytes on purpose: JSON
encoders refuse NaN and lone surrogates, but attackers do not use JSON encoders.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Iterator


@dataclass(frozen=True)
class Case:
    name: str
    method: str
    path: str
    body: bytes | None = None
    content_type: str = "application/json"


# JSON fragments spliced into templates as raw text (so NaN, Infinity, \ud800 and 600-digit numbers survive).
GARBAGE_VALUES: dict[str, str] = {
    "lone_high_surrogate": r'"\ud800"',
    "lone_low_surrogate": r'"\udfff"',
    "surrogate_in_text": r'"80万\ud83d元"',
    "nul": r'"80\u0000万"',
    "nan": "NaN",
    "infinity": "Infinity",
    "neg_infinity": "-Infinity",
    "1e309": "1e309",
    "neg_1e309": "-1e309",
    "int_2_63": str(2**63),
    "int_2_64": str(2**64),
    "numeral_600": "9" * 600,
    "string_numeral_600": '"' + "9" * 600 + '"',
    "string_1e309": '"1e309元"',
    "string_nan": '"NaN"',
    "string_inf": '"inf"',
    "negative": "-800000",
    "string_negative": '"-80万"',
    "object": '{"a": 1}',
    "list": "[1, 2]",
    "null": "null",
    "true": "true",
    "zero_width": r'"\u200b\u200b"',
    "string_sql": '"100P; DROP TABLE turns"',
    "string_percent": '"500%"',
    "string_unknown": '"是不是我也不知道"',
}

QUESTION_GARBAGE: dict[str, str] = {
    "lone_surrogate": r'"\ud800"',
    "surrogate_in_question": r'"厦门算力券\udc00能补多少"',
    "nul_question": r'"厦门\u0000算力券"',
    "zero_width_only": r'"\u200b\u200c\u200d\ufeff"',
    "nan": "NaN",
    "infinity": "Infinity",
    "1e309": "1e309",
    "number": "123",
    "list": '["厦门"]',
    "object": '{"q": "厦门"}',
    "null": "null",
    "numeral_600": '"' + "9" * 600 + '元的算力能补多少"',
    "whitespace": r'"\t\n  \u3000"',
}

MALFORMED_BODIES: dict[str, bytes] = {
    "empty": b"",
    "truncated": '{"question": "厦门'.encode(),
    "not_json": b"question=hello",
    "invalid_utf8": b'{"question": "\xff\xfe\xfd"}',
    "json_null": b"null",
    "json_list": b"[]",
    "json_string": b'"hello"',
    "deep_nesting": b"[" * 50_000 + b"]" * 50_000,
    "bom_prefixed": b'\xef\xbb\xbf{"question": "\xe5\x8e\xa6\xe9\x97\xa8"}',
    "duplicate_keys_nan": b'{"question": "x", "question": NaN}',
}


def _raw(template: str, value: str) -> bytes:
    return template.replace("@", value).encode("utf-8")


def cases() -> Iterator[Case]:
    """At least 150 cases across every JSON route, query strings and paths."""
    for name, value in GARBAGE_VALUES.items():
        yield Case(f"calculate.fact.{name}", "POST", "/api/calculate",
                   _raw('{"program_id": "xm-compute-voucher", "facts": {"compute_purchase_yuan": @}}', value))
        yield Case(f"eligibility.profile.{name}", "POST", "/api/eligibility",
                   _raw('{"profile": {"compute_purchase_yuan": @, "region": "厦门"}}', value))
        yield Case(f"feedback.turn_id.{name}", "POST", "/api/feedback", _raw('{"rating": "up", "turn_id": @}', value))
    for name, value in QUESTION_GARBAGE.items():
        yield Case(f"chat.question.{name}", "POST", "/api/chat", _raw('{"question": @}', value))
        yield Case(f"chat.stream.{name}", "POST", "/api/chat", _raw('{"question": @, "stream": true}', value))
        yield Case(f"v1.content.{name}", "POST", "/v1/chat/completions",
                   _raw('{"model": "policy-assistant", "messages": [{"role": "user", "content": @}]}', value))
    for name, body in MALFORMED_BODIES.items():
        for path in ("/api/chat", "/api/calculate", "/v1/chat/completions"):
            yield Case(f"malformed.{name}.{path}", "POST", path, body)
    for name, content in {
        "part_text_number": '[{"type": "text", "text": 123}]',
        "part_text_missing": '[{"type": "text"}]',
        "part_int": "[1, 2, 3]",
        "part_nested": '[{"type": "text", "text": {"a": "b"}}]',
        "part_image": '[{"type": "image_url", "image_url": {"url": "http://x"}}]',
        "part_surrogate": r'[{"type": "text", "text": "\ud800"}]',
    }.items():
        yield Case(f"v1.parts.{name}", "POST", "/v1/chat/completions",
                   _raw('{"model": "policy-assistant", "messages": [{"role": "user", "content": @}]}', content))
    for name, messages in {
        "role_only": '[{"role": "user"}]',
        "empty_list": "[]",
        "not_list": '"hello"',
        "assistant_last": '[{"role": "user", "content": "厦门"}, {"role": "assistant", "content": "好"}]',
        "role_number": '[{"role": 1, "content": "厦门"}]',
    }.items():
        yield Case(f"v1.messages.{name}", "POST", "/v1/chat/completions", _raw('{"messages": @}', messages))
    for name, extra in {
        "stream_options_nan": '"stream": true, "stream_options": {"include_usage": NaN}',
        "user_surrogate": r'"user": "\ud800"',
        "user_object": '"user": {"id": 1}',
        "temperature_inf": '"temperature": Infinity',
    }.items():
        yield Case(f"v1.fields.{name}", "POST", "/v1/chat/completions",
                   _raw('{"messages": [{"role": "user", "content": "厦门算力券"}], @}', extra))
    for name, as_of in {"bad_month": '"2024-13-45"', "year_zero": '"0000-01-01"', "number": "20240101",
                        "nan": "NaN", "surrogate": r'"\ud800"'}.items():
        yield Case(f"chat.as_of.{name}", "POST", "/api/chat", _raw('{"question": "厦门算力券", "as_of": @}', as_of))
        yield Case(f"calculate.as_of.{name}", "POST", "/api/calculate",
                   _raw('{"program_id": "xm-compute-voucher", "facts": {}, "as_of": @}', as_of))
    for name, pid in {"traversal": '"../../etc/passwd"', "surrogate": r'"\ud800"', "long": '"' + "x" * 5000 + '"',
                      "number": "7", "nul": r'"xm\u0000"'}.items():
        yield Case(f"calculate.program.{name}", "POST", "/api/calculate", _raw('{"program_id": @, "facts": {}}', pid))
    for name, query in {"k_negative": "q=算力&k=-1", "k_huge": "q=算力&k=" + "9" * 600, "k_nan": "q=算力&k=NaN",
                        "q_surrogate_utf8": "q=%ED%A0%80", "q_invalid_utf8": "q=%FF%FE", "q_nul": "q=%00",
                        "q_zero_width": "q=%E2%80%8B", "region_long": "q=算力&region=" + "厦" * 100,
                        "q_missing": "k=3", "q_600_digits": "q=" + "9" * 600}.items():
        yield Case(f"search.{name}", "GET", "/api/search?" + query)
    for name, sid in {"surrogate_utf8": "%ED%A0%80", "long": "a" * 300, "dots": "..", "nul": "%00",
                      "sql": "1%27%20OR%201=1"}.items():
        yield Case(f"sessions.{name}", "GET", "/api/sessions/" + sid)
    yield Case("documents.as_of.bad", "GET", "/api/documents?as_of=2024-02-30")
    yield Case("documents.as_of.surrogate", "GET", "/api/documents?as_of=%ED%A0%80")


def case_count() -> int:
    return sum(1 for _ in cases())


def describe(case: Case) -> str:
    return json.dumps({"name": case.name, "method": case.method, "path": case.path[:80]}, ensure_ascii=False)
