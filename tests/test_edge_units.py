"""The edge's pieces without a server: strict JSON, text checks, who the client is, the fail-closed key, safe logs."""
from __future__ import annotations

import io
import logging
import re

import pytest

from policy_assistant.settings import Settings, SettingsError
from ui import logsafe
from ui.inputs import MAX_DEPTH, MAX_DIGITS, InputRefused, check_text, parse_json_body
from ui.limits import ClientAddress, cookie_token, required_api_key

CJK = re.compile(r"[\u4e00-\u9fff]")


def refused(raw: bytes) -> InputRefused:
    with pytest.raises(InputRefused) as err:
        parse_json_body(raw)
    assert CJK.search(err.value.message), err.value.message
    return err.value


@pytest.mark.parametrize("raw, code", [
    (rb'{"a": "\ud800"}', "invalid_characters"),
    (rb'{"a": "\udfff x"}', "invalid_characters"),
    (rb'{"\ud83d": 1}', "invalid_characters"),
    (rb'{"a": "80\u0000"}', "invalid_characters"),
    (b'{"a": NaN}', "invalid_number"),
    (b'{"a": Infinity}', "invalid_number"),
    (b'{"a": -Infinity}', "invalid_number"),
    (b'{"a": 1e309}', "invalid_number"),
    (b'{"a": -1e309}', "invalid_number"),
    (b'{"a": 9223372036854775808}', "number_too_large"),
    (b'{"a": ' + b"9" * 600 + b"}", "number_too_long"),
    (b'{"a": "' + b"9" * 600 + b'"}', "number_too_long"),
    (b"{", "json_invalid"),
    (b'{"a": "\xff"}', "invalid_encoding"),
    (b"[" * 50_000 + b"]" * 50_000, "too_deep"),
])
def test_garbage_json_is_refused_in_chinese(raw, code):
    assert refused(raw).code == code


def test_plain_json_passes_unchanged():
    body = '{"question": "厦门买算力80万", "facts": {"x": 1.5, "y": [1, -2, true, null]}, "n": 9223372036854775807}'
    assert parse_json_body(body.encode()) == {"question": "厦门买算力80万", "facts": {"x": 1.5, "y": [1, -2, True, None]},
                                              "n": 2**63 - 1}
    assert parse_json_body(b'\xef\xbb\xbf{"a": 1}') == {"a": 1}  # a BOM is tolerated


@pytest.mark.parametrize("digits, ok", [(MAX_DIGITS - 1, True), (MAX_DIGITS, True), (MAX_DIGITS + 1, False)])
def test_numeral_length_boundary(digits, ok):
    """MAX_DIGITS=30: a 29- or 30-digit numeral passes (in a string or as a number), 31 digits are refused."""
    for raw in (b'{"a": "' + b"1" * digits + b'"}', b'{"a": ' + b"1" * digits + b".5}"):
        if ok:
            parse_json_body(raw)
        else:
            assert refused(raw).code == "number_too_long"


@pytest.mark.parametrize("depth, ok", [(MAX_DEPTH - 1, True), (MAX_DEPTH, True), (MAX_DEPTH + 1, False)])
def test_nesting_boundary(depth, ok):
    """MAX_DEPTH=32 brackets: 31 and 32 levels parse, 33 is refused before the recursive parser runs."""
    raw = b"[" * depth + b"]" * depth
    if ok:
        parse_json_body(raw)
    else:
        assert refused(raw).code == "too_deep"


def test_brackets_inside_strings_do_not_count_as_nesting():
    parse_json_body(b'{"q": "' + b"[" * 200 + b'"}')


@pytest.mark.parametrize("text, code", [
    ("\u200b\u200c\u200d\ufeff", "empty_question"), ("\u3000 \t\n", "empty_question"), ("", "empty_question"),
    ("厦门\ud800", "invalid_characters"), ("厦门\x00算力", "invalid_characters"),
    ("９" * 31 + "元", "number_too_long"),
])
def test_text_no_person_typed_is_refused(text, code):
    with pytest.raises(InputRefused) as err:
        check_text(text, max_chars=100)
    assert err.value.code == code and CJK.search(err.value.message)


def test_text_keeps_what_a_person_typed():
    assert check_text("  厦门算力券\u200b能补多少？ ") == "厦门算力券\u200b能补多少？"


# --- who the client is -------------------------------------------------------------------------------------------
def test_forwarded_for_is_ignored_without_trusted_proxies():
    assert ClientAddress([])("127.0.0.1", "203.0.113.9") == "127.0.0.1"


def test_forwarded_for_is_read_right_to_left_from_a_trusted_proxy():
    address = ClientAddress(["127.0.0.1", "10.0.0.0/8"])
    # a client forging the leftmost entry is still seen as the address the proxy saw
    assert address("127.0.0.1", "198.51.100.7, 203.0.113.9") == "203.0.113.9"
    assert address("127.0.0.1", "203.0.113.9, 10.1.2.3") == "203.0.113.9"  # through two proxies
    assert address("192.0.2.1", "203.0.113.9") == "192.0.2.1"  # an untrusted peer's header means nothing
    assert address("127.0.0.1", "not-an-ip") == "127.0.0.1"


def test_bad_proxy_setting_is_refused_in_chinese():
    with pytest.raises(SettingsError, match="POLICY_TRUSTED_PROXIES"):
        ClientAddress(["10.0.0.0/33"])


def test_settings_read_lists_from_the_environment():
    s = Settings.from_env({"POLICY_TRUSTED_PROXIES": "127.0.0.1, 10.0.0.0/8", "POLICY_FRAME_ANCESTORS": "https://a.cn"})
    assert s.trusted_proxies == ["127.0.0.1", "10.0.0.0/8"] and s.frame_ancestors == ["https://a.cn"]


# --- the key fails closed ------------------------------------------------------------------------------------------------
def test_api_key_absent_means_no_key():
    assert required_api_key(Settings(), {}) is None


@pytest.mark.parametrize("environ", [{}, {"PA_KEY": ""}, {"PA_KEY": "   "}])
def test_api_key_variable_unset_or_empty_refuses_to_start(environ):
    with pytest.raises(SettingsError) as err:
        required_api_key(Settings(api_key_env="PA_KEY"), environ)
    assert "PA_KEY" in str(err.value) and "拒绝" in str(err.value)


def test_api_key_is_read_from_the_named_variable():
    assert required_api_key(Settings(api_key_env="PA_KEY"), {"PA_KEY": " s3cret "}) == "s3cret"
    assert cookie_token("s3cret") != "s3cret" and cookie_token("s3cret") == cookie_token("s3cret")


# --- logging cannot kill a request ------------------------------------------------------------------------------------
def test_safe_logging_escapes_surrogates_and_withholds_exception_messages():
    stream = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="strict")
    handler = logsafe.SafeHandler(stream)
    handler.setFormatter(logsafe.SafeFormatter(logsafe.FORMAT))
    logger = logging.getLogger("test.logsafe")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("value %s", "\ud800")
        typed_by_user = "统一社会信用代码" + "9135" + "0200MA00000000"
        try:
            raise ValueError(typed_by_user)
        except ValueError:
            logger.exception("failed")
        logger.warning("bad %d format", "x")  # a broken call must not raise either
    finally:
        logger.removeHandler(handler)
    stream.flush()
    text = stream.buffer.getvalue().decode("utf-8")
    assert "\\ud800" in text
    assert "ValueError" in text and "91350200" not in text
    assert "unformattable" in text


def test_body_read_deadline():
    """A body that does not arrive in time is a 408 (Chinese); one that arrives is read whole; the request's own
    cancellation (a client gone) stays a cancellation, not a timeout."""
    import asyncio

    from ui.edge import Edge, _Refused

    edge = Edge(lambda *a: None, settings=Settings(body_timeout_s=0.05), api_key=None)

    async def never():
        await asyncio.sleep(3600)

    async def parts(chunks):
        chunks = list(chunks)

        async def receive():
            await asyncio.sleep(0)
            body = chunks.pop(0)
            return {"type": "http.request", "body": body, "more_body": bool(chunks)}
        return receive

    async def run():
        with pytest.raises(_Refused) as err:
            await edge._read_body(never)
        assert err.value.error.status == 408 and CJK.search(err.value.error.message)
        assert await edge._read_body(await parts([b'{"a":', b' 1}'])) == b'{"a": 1}'
        task = asyncio.ensure_future(edge._read_body(never))
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(run())
