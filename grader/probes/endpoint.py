"""Talk to a team's scoring endpoint as to a stranger: one wall-clock deadline per request (connecting,
sending, the headers and every byte of the answer: a server dripping a byte at a time is cut off
when it passes), a cap on the answer's size, redirects followed only to the same origin (scheme,
host and port), the key from an env var and only ever to the endpoint's own origin.

Every answer is an `Answer` (status, parsed JSON or None, a short text excerpt); a connection that
is refused or times out raises `Unreachable` with a reason a student can act on. Each request has a
connection of its own, closed before the request returns: nothing outlives it.
"""

from __future__ import annotations

import http.client
import io
import json
import os
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from wth import contract, smoke

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


class _Deadline(io.RawIOBase):
    """A socket's reads, each waiting at most until the deadline: no pace of dripping outlasts it."""

    def __init__(self, sock: socket.socket, deadline: float):
        self.sock, self.deadline = sock, deadline

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("past the deadline")
        self.sock.settimeout(left)
        return self.sock.recv_into(buffer)


class _Socket:
    """What `http.client` uses of a socket, each operation bounded by the request's deadline."""

    def __init__(self, sock: socket.socket, deadline: float):
        self.sock, self.deadline = sock, deadline

    def sendall(self, data: bytes) -> None:
        self.sock.settimeout(max(0.001, self.deadline - time.monotonic()))
        self.sock.sendall(data)

    def makefile(self, mode: str) -> io.BufferedReader:
        return io.BufferedReader(_Deadline(self.sock, self.deadline))

    def close(self) -> None:  # the answer may still be read: `fetch` closes the socket when done
        pass


class NoConnection(OSError):
    """No connection within the connect time."""


def origin(uri: str) -> tuple[str, str]:
    parts = urlsplit(uri)
    return parts.scheme, parts.netloc


def fetch(method: str, uri: str, body: bytes | None, headers: dict, connect_s: float, deadline: float,
          cap: int) -> tuple[int, dict, bytes]:
    """One HTTP exchange within `deadline` (time.monotonic), the answer's body at most `cap` bytes:
    (status, headers, body). Raises OSError/http.client.HTTPException/ValueError when it cannot."""
    parts = urlsplit(uri)
    kind = {"http": http.client.HTTPConnection, "https": http.client.HTTPSConnection}.get(parts.scheme)
    if kind is None or not parts.hostname:
        raise ValueError(f"not an http(s) URI: {uri[:200]}")
    options = {"context": ssl.create_default_context()} if kind is http.client.HTTPSConnection else {}
    conn = kind(parts.hostname, parts.port, timeout=min(connect_s, max(0.001, deadline - time.monotonic())), **options)
    raw = None
    try:
        try:
            conn.connect()
        except TimeoutError:
            raise NoConnection from None
        raw = conn.sock
        conn.sock = _Socket(raw, deadline)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        conn.request(method, target, body=body, headers={"Accept-Encoding": "identity", **headers})
        response = conn.getresponse()
        data = response.read(cap + 1)
        if len(data) > cap:
            raise OverflowError(cap)
        return response.status, {k.lower(): v for k, v in response.getheaders()}, data
    finally:
        conn.close()
        if raw is not None:
            raw.close()


class EndpointProbe:
    def __init__(self, endpoint: Endpoint, connect_s: float = 3.0, read_s: float = 10.0):
        self.endpoint, self.connect_s, self.read_s = endpoint, connect_s, read_s

    @property
    def scoring_uri(self) -> str:
        return self.endpoint.uri

    @property
    def root_uri(self) -> str:
        return smoke.health_url(self.endpoint.uri)

    def _headers(self, uri: str) -> dict:
        """The key goes to the endpoint's own origin only."""
        key = os.environ.get(self.endpoint.key_env) if self.endpoint.key_env else None
        return {"User-Agent": "wth-grader/1", **smoke.headers(key if origin(uri) == origin(self.endpoint.uri) else None)}

    def request(self, method: str, uri: str, *, data: bytes | None = None, json_body=None) -> Answer:
        started = time.monotonic()
        budget = self.connect_s + self.read_s
        deadline = started + budget
        host = urlsplit(uri).netloc
        if json_body is not None:
            data = json.dumps(json_body).encode()
        for _ in range(MAX_REDIRECTS + 1):
            headers = self._headers(uri)
            if data is not None:
                headers["Content-Type"] = "application/json"
            try:
                status, answer_headers, body = fetch(method, uri, data, headers, self.connect_s, deadline, MAX_BYTES)
            except OverflowError:
                raise Unreachable(f"{host} sent more than {MAX_BYTES // 1024} kB; refused") from None
            except NoConnection:
                raise Unreachable(f"no connection to {host} within {self.connect_s:g} s") from None
            except TimeoutError:
                raise Unreachable(f"{host} accepted the connection but sent no complete answer within {budget:g} s") from None
            except ConnectionRefusedError:
                raise Unreachable(f"cannot connect to {host}: connection refused") from None
            except (OSError, http.client.HTTPException, ValueError) as err:
                raise Unreachable(f"request to {host} failed: {type(err).__name__}") from None
            if status in (301, 302, 303, 307, 308) and "location" in answer_headers:
                target = urljoin(uri, answer_headers["location"])
                if origin(target) != origin(uri):
                    raise Unreachable(f"{host} redirected to another origin ({urlsplit(target).netloc}); not followed")
                uri = target
                continue
            text = body.decode("utf-8", errors="replace")
            try:
                parsed = json.loads(text)
            except (ValueError, RecursionError):  # not JSON, or nested past what a parser should follow
                parsed = None
            return Answer(status, parsed, text[:300], round(time.monotonic() - started, 3),
                          key_sent=contract.KEY_HEADER in headers)
        raise Unreachable(f"{host} redirected more than {MAX_REDIRECTS} times")

    def get_root(self) -> Answer:
        return self.request("GET", self.root_uri)

    def score(self, body) -> Answer:
        return self.request("POST", self.scoring_uri, json_body=body)

    def score_raw(self, data: bytes) -> Answer:
        return self.request("POST", self.scoring_uri, data=data)
