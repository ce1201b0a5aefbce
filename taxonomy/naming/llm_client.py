"""A small client for OpenAI-compatible chat endpoints: retries, back-off, a reply cache.

Only the standard library speaks HTTP here. The API key is read from the environment
variable the config names and appears in no log, error, output or cache key. Replies are
cached in the stage cache under (model, messages, temperature, max_tokens).
"""

from __future__ import annotations

import email.utils
import http.client
import json
import os
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field

import numpy as np

from ..config import LLMConfig
from ..errors import ConfigError, TaxonomyError
from ..util.cache import ArrayStore, hash_key

Messages = list[dict[str, str]]

RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504}
BACKOFF_S = 1.0  # first wait between tries; doubles each time
MAX_WAIT_S = 60.0  # cap on one wait, Retry-After included


class LLMError(TaxonomyError):
    """The endpoint failed (unreachable, refused, timed out, or answered something unusable)."""


# --- the endpoint -------------------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    url: str = field(repr=False)  # the chat-completions URL, credentials and query kept
    shown: str  # the same without credentials or query, for messages
    model: str
    api_key: str | None = field(default=None, repr=False)


def resolve_endpoint(cfg: LLMConfig) -> Endpoint:
    """The endpoint from ``labels.llm``, its URL and key read from the environment where named."""
    base = cfg.base_url
    if not base and cfg.base_url_env:
        base = os.environ.get(cfg.base_url_env, "").strip()
        if not base:
            raise ConfigError(
                f"labels.llm.base_url_env: environment variable {cfg.base_url_env} is not set "
                "(it should hold the endpoint URL, e.g. http://localhost:11434/v1)"
            )
        if not base.startswith(("http://", "https://")):
            raise ConfigError(
                f"labels.llm.base_url_env: {cfg.base_url_env} holds no http:// or https:// URL"
            )
    if not base or not cfg.model:
        raise ConfigError("labels.llm: base_url (or base_url_env) and model are required")
    key = None
    if cfg.api_key_env:
        # Never echo the value: a key pasted here by mistake must not reach a log.
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", cfg.api_key_env):
            raise ConfigError(
                "labels.llm.api_key_env: expected the NAME of an environment variable "
                "holding the key, not the key itself"
            )
        key = os.environ.get(cfg.api_key_env) or None
        if key is None:
            raise ConfigError(
                f"labels.llm.api_key_env: environment variable {cfg.api_key_env} is not set"
            )
    parts = urllib.parse.urlsplit(base.strip())
    path = parts.path.rstrip("/")
    if not path.endswith("/chat/completions"):
        path += "/chat/completions"
    url = urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))
    try:
        host, port = parts.hostname or "", parts.port
    except ValueError:
        raise ConfigError("labels.llm.base_url: the port is not a number") from None
    netloc = (f"[{host}]" if ":" in host else host) + (f":{port}" if port else "")
    # Shown without user, password or query (a key may hide in any of them).
    shown = urllib.parse.urlunsplit((parts.scheme, netloc, path, "", ""))
    return Endpoint(url, shown, cfg.model, key)


class ChatClient:
    """POSTs chat completions with retries, caching every reply in ``store``.

    ``requests`` counts HTTP requests sent (retries included), ``cached``
    replies read from the cache instead.
    """

    def __init__(self, endpoint: Endpoint, cfg: LLMConfig, store: ArrayStore, sleep=time.sleep):
        self.endpoint, self.cfg, self.store, self.sleep = endpoint, cfg, store, sleep
        self.requests = self.cached = 0
        self._lock = threading.Lock()
        self._failed = threading.Event()

    def complete_many(self, prompts: dict[str, Messages]) -> dict[str, str]:
        """Reply text per prompt id: cached ones first, the rest ``concurrency`` at a time."""
        out: dict[str, str] = {}
        todo: dict[str, tuple[Messages, str]] = {}
        for pid, messages in prompts.items():
            key = self._key(messages)
            hit = self.store.load("llm", key)
            if hit is not None and "text" in hit:
                out[pid] = bytes(hit["text"]).decode("utf-8", "replace")
                self.cached += 1
            else:
                todo[pid] = (messages, key)
        if not todo:
            return out
        with ThreadPoolExecutor(max_workers=min(self.cfg.concurrency, len(todo))) as pool:
            futures = {pool.submit(self._request, m, k): pid for pid, (m, k) in todo.items()}
            try:
                for fut in as_completed(futures):
                    out[futures[fut]] = fut.result()
            except LLMError:
                self._failed.set()  # stop the others' retries; the first error is the one shown
                for fut in futures:
                    fut.cancel()
                raise
        return out

    def _key(self, messages: Messages) -> str:
        c = self.cfg
        return hash_key("llm-reply", self.endpoint.model, messages, c.temperature, c.max_tokens)

    def _request(self, messages: Messages, key: str) -> str:
        c, ep = self.cfg, self.endpoint
        body = json.dumps(
            {
                "model": ep.model,
                "messages": messages,
                "temperature": c.temperature,
                "max_tokens": c.max_tokens,
                "stream": False,
            }
        ).encode("utf-8")
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if ep.api_key:
            headers["Authorization"] = f"Bearer {ep.api_key}"
        tries = c.max_retries + 1
        for attempt in range(tries):
            if self._failed.is_set():
                raise LLMError("labels.llm: stopped after another request failed")
            with self._lock:
                self.requests += 1
            last = attempt == tries - 1
            wait = min(BACKOFF_S * 2**attempt, MAX_WAIT_S)
            request = urllib.request.Request(ep.url, data=body, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=c.timeout) as resp:
                    raw = resp.read()
            except urllib.error.HTTPError as err:
                detail = _error_detail(_read(err))
                if err.code in RETRY_STATUS and not last:
                    self.sleep(_retry_after(err.headers.get("Retry-After"), wait))
                    continue
                raise self._error(
                    f"{ep.shown} answered HTTP {err.code} {err.reason}"
                    f"{': ' + detail if detail else ''}{_hint(err.code, c)}"
                    + (f" after {_tries(attempt + 1)}" if err.code in RETRY_STATUS else "")
                ) from None
            except (TimeoutError, urllib.error.URLError, OSError, http.client.HTTPException) as err:
                reason = getattr(err, "reason", err)
                if isinstance(reason, TimeoutError):
                    what = f"{ep.shown} did not answer within {c.timeout:g} s (labels.llm.timeout)"
                elif isinstance(reason, ConnectionRefusedError):
                    what = (
                        f"cannot connect to {ep.shown}: connection refused (is the server running?)"
                    )
                elif isinstance(reason, (ConnectionError, http.client.HTTPException)):
                    what = f"{ep.shown} dropped the connection ({type(reason).__name__})"
                else:  # DNS failure, unreachable network, TLS error: retrying will not help
                    raise self._error(f"cannot connect to {ep.shown}: {reason}") from None
                if not last:
                    self.sleep(wait)
                    continue
                raise self._error(f"{what} after {_tries(attempt + 1)}") from None
            text = self._content(raw)
            self.store.save("llm", key, text=np.frombuffer(text.encode("utf-8"), dtype=np.uint8))
            return text
        raise AssertionError("unreachable")

    def _content(self, raw: bytes) -> str:
        try:
            data = json.loads(raw)
        except ValueError:
            raise self._error(
                f"{self.endpoint.shown} answered with a body that is not JSON: {_snippet(raw)}"
            ) from None
        try:
            # null: a reasoning model that spent max_tokens thinking; an empty name, not an error
            content = data["choices"][0]["message"]["content"] or ""
        except (KeyError, IndexError, TypeError):
            content = None
        if not isinstance(content, str):
            raise self._error(
                f"{self.endpoint.shown} answered JSON that is not an OpenAI chat completion "
                f"(no choices[0].message.content): {_snippet(raw)}"
            )
        return content

    def _error(self, message: str) -> LLMError:
        message = " ".join(message.split())  # one line, whatever the server wrote
        if self.endpoint.api_key:
            message = message.replace(self.endpoint.api_key, "***")
        return LLMError(f"labels.llm: {message}")


def _read(err: urllib.error.HTTPError) -> bytes:
    try:
        return err.read()
    except (OSError, http.client.HTTPException):
        return b""


def _error_detail(raw: bytes) -> str:
    """The server's own error message (OpenAI's ``{"error": {"message": …}}`` and the like)."""
    try:
        data = json.loads(raw)
    except ValueError:
        return _snippet(raw, 120) if raw.strip() else ""
    err = data.get("error", data) if isinstance(data, dict) else data
    if isinstance(err, dict):
        err = err.get("message") or err.get("detail") or err
    return _snippet(str(err).encode(), 120)


def _snippet(raw: bytes, limit: int = 80) -> str:
    text = " ".join(raw.decode("utf-8", "replace").split())
    return repr(text if len(text) <= limit else text[:limit] + "…")


def _hint(code: int, cfg: LLMConfig) -> str:
    if code in (401, 403):
        if cfg.api_key_env:
            return f" (check the key in ${cfg.api_key_env}, named by labels.llm.api_key_env)"
        return " (the server wants a key: set labels.llm.api_key_env)"
    if code == 404:
        return " (check labels.llm.base_url and labels.llm.model)"
    return ""


def _tries(n: int) -> str:
    return f"{n} {'try' if n == 1 else 'tries'}"


def _retry_after(value: str | None, default: float) -> float:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date), capped."""
    if not value:
        return default
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = email.utils.parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError):
            return default
    return min(max(seconds, 0.0), MAX_WAIT_S)
