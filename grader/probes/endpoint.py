"""Talk to a team's scoring endpoint safely: connect/read timeouts, an overall deadline per request,
a cap on the response size, redirects followed only on the same host, the key from an env var.

Every answer is an `Answer` (status, parsed JSON or None, a short text excerpt); a connection that
is refused or times out raises `Unreachable` with a reason a student can act on.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import requests

from wth import smoke

from ..teams import Endpoint

MAX_BYTES = 1 << 20  # a forecast of 365 days is ~15 kB; anything past 1 MB is not an answer
MAX_REDIRECTS = 3


class Unreachable(Exception):
    """No HTTP answer: refused, timed out, too large, or redirected elsewhere."""


@dataclass
class Answer:
    status: int
    body: object | None  # parsed JSON, None if the body is not JSON
    text: str  # the first 300 characters, for evidence
    seconds: float
    key_sent: bool = False  # whether the request carried `Authorization: Bearer <key>`

    def excerpt(self) -> str:
        refused = self.refusal()
        return f"HTTP {self.status} {self.text[:200]}" + (f" ({refused})" if refused else "")

    def refusal(self) -> str | None:
        """What a 401/403 means for the teams file: no key sent, or the key sent is wrong."""
        if self.status not in (401, 403):
            return None
        if self.key_sent:
            return "the endpoint refused the key: the variable named by endpoint.key_env holds a wrong or old key"
        return ("the endpoint wants a key: give endpoint.key_env in the teams file and export that variable "
                "with the endpoint's key")


class EndpointProbe:
    def __init__(self, endpoint: Endpoint, connect_s: float = 3.0, read_s: float = 10.0):
        self.endpoint, self.connect_s, self.read_s = endpoint, connect_s, read_s
        self.session = requests.Session()
        self.session.trust_env = False  # no proxies or netrc credentials from the coach's environment

    @property
    def scoring_uri(self) -> str:
        return self.endpoint.uri

    @property
    def root_uri(self) -> str:
        return smoke.health_url(self.endpoint.uri)

    def _headers(self) -> dict:
        key = os.environ.get(self.endpoint.key_env) if self.endpoint.key_env else None
        return {"User-Agent": "wth-grader/1", **smoke.headers(key)}

    def request(self, method: str, uri: str, *, data: bytes | None = None, json_body=None) -> Answer:
        started = time.monotonic()
        deadline = started + self.connect_s + self.read_s
        host = urlsplit(uri).netloc
        headers = self._headers()
        if json_body is not None:
            data, headers["Content-Type"] = json.dumps(json_body).encode(), "application/json"
        elif data is not None:
            headers["Content-Type"] = "application/json"
        for _ in range(MAX_REDIRECTS + 1):
            try:
                response = self.session.request(method, uri, data=data, headers=headers, stream=True,
                                                timeout=(self.connect_s, self.read_s), allow_redirects=False)
            except requests.exceptions.ConnectTimeout:
                raise Unreachable(f"no connection to {host} within {self.connect_s:g} s") from None
            except requests.exceptions.ReadTimeout:
                raise Unreachable(f"{host} accepted the connection but sent no answer within {self.read_s:g} s") from None
            except requests.exceptions.ConnectionError as err:
                reason = "connection refused" if "refused" in str(err).lower() else type(err).__name__
                raise Unreachable(f"cannot connect to {host}: {reason}") from None
            except requests.RequestException as err:
                raise Unreachable(f"request to {host} failed: {type(err).__name__}") from None
            with response:
                if response.is_redirect:
                    target = urljoin(uri, response.headers.get("Location", ""))
                    if urlsplit(target).netloc != host:
                        raise Unreachable(f"{host} redirected to another host ({urlsplit(target).netloc}); not followed")
                    uri = target
                    continue
                body = self._read(response, host, deadline)
            text = body.decode("utf-8", errors="replace")
            try:
                parsed = json.loads(text)
            except ValueError:
                parsed = None
            return Answer(response.status_code, parsed, text[:300], round(time.monotonic() - started, 3),
                          key_sent="Authorization" in headers)
        raise Unreachable(f"{host} redirected more than {MAX_REDIRECTS} times")

    def _read(self, response: requests.Response, host: str, deadline: float) -> bytes:
        chunks, size = [], 0
        try:
            for chunk in response.iter_content(16384):
                size += len(chunk)
                if size > MAX_BYTES:
                    raise Unreachable(f"{host} sent more than {MAX_BYTES // 1024} kB; refused")
                if time.monotonic() > deadline:
                    raise Unreachable(f"{host} kept sending past the {self.connect_s + self.read_s:g} s budget")
                chunks.append(chunk)
        except requests.RequestException as err:
            raise Unreachable(f"{host} broke off the answer: {type(err).__name__}") from None
        return b"".join(chunks)

    def get_root(self) -> Answer:
        return self.request("GET", self.root_uri)

    def score(self, body) -> Answer:
        return self.request("POST", self.scoring_uri, json_body=body)

    def score_raw(self, data: bytes) -> Answer:
        return self.request("POST", self.scoring_uri, data=data)
