"""The limits the edge applies: the API key (fail closed), per-client rate, who the client is behind a proxy.

All pure or self-contained; `ui.edge.Edge` applies them to every route. Refusals are Chinese (`ui.errors.ApiError`).
"""
from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import threading
import time
from collections import OrderedDict
from typing import Iterable

from policy_assistant.settings import Settings, SettingsError
from ui.errors import ApiError
from ui.inputs import InputRefused, check_text


def check_text_length(text: str, settings: Settings, *, field: str = "问题") -> str:
    """The stripped text, or a 422 ApiError: empty, invisible-only, bad characters, over `max_question_chars`."""
    try:
        return check_text(text, field=field, max_chars=settings.max_question_chars)
    except InputRefused as refused:
        raise ApiError(422, refused.code, refused.message) from None


def required_api_key(settings: Settings, environ: dict[str, str] | None = None) -> str | None:
    """The key every route requires, read from the variable `settings.api_key_env` names; None when none is configured.

    Fails closed: a configured variable that is unset or empty raises SettingsError (the server refuses to start)
    instead of silently serving every route without a key.
    """
    if not settings.api_key_env:
        return None
    value = (os.environ if environ is None else environ).get(settings.api_key_env, "")
    if not value.strip():
        raise SettingsError(
            f"已设置 POLICY_API_KEY_ENV={settings.api_key_env}，但环境变量 {settings.api_key_env} 未设置或为空："
            f"服务拒绝在没有密钥的情况下启动。请设置该变量（如 export {settings.api_key_env}=一个足够长的随机串），"
            "或取消 POLICY_API_KEY_ENV 以不启用密钥。")
    return value.strip()


def cookie_token(api_key: str) -> str:
    """What the browser cookie holds after the login form: derived from the key, never the key itself."""
    return hmac.new(api_key.encode(), b"policy-assistant browser session v1", hashlib.sha256).hexdigest()


class RateLimiter:
    """Token bucket per client: `per_minute` requests a minute with bursts up to the same number. ≤0 disables it.

    At most `max_clients` buckets are kept, least recently used dropped first (O(1), nothing is ever scanned);
    a dropped bucket was idle longest, so it had refilled anyway unless the table is flooded.
    """

    def __init__(self, per_minute: int, *, max_clients: int = 20_000, clock=time.monotonic):
        self.capacity = float(per_minute)
        self.refill_per_s = per_minute / 60.0
        self.max_clients = max_clients
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.capacity > 0

    def __len__(self) -> int:
        return len(self._buckets)

    def acquire(self, client: str) -> float:
        """Take one token; returns 0 when allowed, else the seconds until a token is available."""
        if not self.enabled:
            return 0.0
        now = self._clock()
        with self._lock:
            tokens, last = self._buckets.pop(client, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.refill_per_s)
            allowed = tokens >= 1.0
            self._buckets[client] = (tokens - 1.0 if allowed else tokens, now)
            while len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
        return 0.0 if allowed else (1.0 - tokens) / self.refill_per_s


class ClientAddress:
    """The client's address: the peer, or — only when the peer is a configured proxy — the nearest untrusted
    address in X-Forwarded-For (read right to left, so a client cannot forge its way past the proxy)."""

    def __init__(self, trusted: Iterable[str] = ()):
        self.networks = []
        for item in trusted:
            try:
                self.networks.append(ipaddress.ip_network(item.strip(), strict=False))
            except ValueError:
                raise SettingsError(f"POLICY_TRUSTED_PROXIES 中的地址无效：{item!r}（应为 IP 或网段，如 127.0.0.1、10.0.0.0/8）") from None

    def _trusted(self, host: str) -> bool:
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(address in net for net in self.networks)

    def __call__(self, peer: str, forwarded_for: str | None) -> str:
        if not self.networks or not forwarded_for or not self._trusted(peer):
            return peer
        hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
        for hop in reversed(hops):
            if not self._trusted(hop):
                try:
                    return str(ipaddress.ip_address(hop))
                except ValueError:
                    return peer  # garbage in the header: meter the proxy's own address
        return hops[0] if hops else peer
