"""The endpoint's router: the stable scoring URI in front of the named deployments.

An asyncio HTTP/1.1 reverse proxy on the stdlib and the stdlib-only `wth.contract` (it starts in a fraction
of a second and runs the same on Linux, macOS and Windows). For each request it
  - answers a method the deployment's server does not take on a path it serves (`ALLOWED`) with 405 and
    `Allow`;
  - refuses `/score` (anything but `GET /`) without `Authorization: Bearer <key>` when the endpoint has
    key auth: 401 with `{"error"}`, before reading a byte of the body (the connection is then closed);
    `GET /` stays open for liveness probes;
  - picks the deployment: the one named by the `azureml-model-deployment` header, else by the traffic
    split (smooth weighted round-robin: a 90/10 split is 9 of every 10 requests, exactly), and names it
    in the answer's `azureml-model-deployment` header, as Azure ML does;
  - forwards it over a kept-alive connection from a per-deployment pool (a fresh one when the server
    closed it), retrying while a rollout switches deployments, with that deployment's secret as its
    `Authorization: Bearer` (the client's key stays here): a deployment answers `/score` only to it.
The endpoint record and the keys file are re-read when they change on disk: the record is the single
source of truth, written only by `solution.endpoint.rollout`.

Requests are framed as RFC 9112 has it and nothing else is guessed at: a repeated, signed, spaced or
otherwise non-digit `Content-Length`, `Transfer-Encoding` beside it or not ending in chunked, whitespace
before a header's colon, a folded header line, CR/LF/NUL inside a value, or a missing or repeated
`Host` is refused with 400 and `{"error"}`, and the connection is closed, so bytes after a request
whose end is in doubt are never read as another request (chunked bodies get 411).

Slow or idle clients cost a socket, not a thread: a new connection's first request headers must arrive
within `HEADER_TIMEOUT`, bodies within `BODY_TIMEOUT`, and a kept-alive
connection that stays quiet for `IDLE_TIMEOUT` is closed. At most `MAX_CONNECTIONS` are open, and
`MAX_PER_CLIENT` from one client address: a connection over either cap takes the place of the one that
has waited longest for a request, of that client or (when the router is full) of the client holding the
most; only when none of those waits is it answered 503. Idle connections from one client cannot lock
others out.

Run as `python solution/endpoint/router.py --record RECORD --port P [--host H]`: by its path, so that
only this module and `wth.contract` are imported (`-m` would import the `solution.endpoint` package first).
"""

from __future__ import annotations

import argparse
import asyncio
import hmac
import json
import re
import signal
import socket
import sys
import time
from pathlib import Path

from wth import contract

HOST = "127.0.0.1"
HEADER_TIMEOUT = 10.0
BODY_TIMEOUT = 30.0
IDLE_TIMEOUT = 30.0
UPSTREAM_TIMEOUT = 60.0
RETRY_S = 2.0  # a switch-over race lasts milliseconds; a dead deployment gets 503 soon
MAX_BODY = 8 << 20  # the entry script refuses anything over 1 MiB itself, with the contract's error
MAX_HEAD = 64 << 10
MAX_CONNECTIONS = 2000
MAX_PER_CLIENT = 512
LINGER_S = 2.0  # after a refusal that closes, how long what the client still sends is read and dropped
POOL_SIZE = 16  # idle upstream connections kept per deployment
KEY_HEADER = contract.KEY_HEADER.lower().encode()  # header names as the router holds them: lower-cased bytes
DEPLOYMENT_HEADER = contract.DEPLOYMENT_HEADER.lower().encode()
ALLOWED = {b"/": b"GET, HEAD", b"/swagger.json": b"GET, HEAD", b"/score": b"POST"}  # azmlinfsrv's routes
FORWARDED = (b"content-type", b"accept", b"x-request-id", b"x-ms-client-request-id")
HOP_BY_HOP = (b"connection", b"keep-alive", b"transfer-encoding", b"content-length")
REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 405: "Method Not Allowed",
           408: "Request Timeout", 411: "Length Required", 413: "Payload Too Large",
           431: "Request Header Fields Too Large", 502: "Bad Gateway", 503: "Service Unavailable",
           504: "Gateway Timeout"}
CLOSING = (400, 408, 411, 413)  # refusals after which the connection's next bytes cannot be trusted
TOKEN = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # RFC 9110 5.6.2: a field name, a method
REQUEST_LINE = re.compile(rb"(%s) ([!-~]+) (HTTP/1\.[01])" % TOKEN.pattern)  # method, target, version
DIGITS = re.compile(rb"[0-9]+")
CTL_IN_VALUE = re.compile(rb"[\x00\r\n]")


class Refused(Exception):
    def __init__(self, status: int, reason: str, headers: tuple[tuple[bytes, bytes], ...] = ()):
        super().__init__(reason)
        self.status, self.headers = status, headers


class State:
    """The record and the keys as last read from disk, and the weighted round-robin over the split."""

    def __init__(self, record: Path, keys: Path):
        self.record_path, self.keys_path = record, keys
        self._seen: tuple = (None, None)
        self.deployments: dict[str, tuple[int, bytes]] = {}  # name -> (port, secret)
        self.auth = "none"
        self.keys: tuple[bytes, ...] = ()
        self._weights: list[tuple[str, int]] = []
        self._current: dict[str, int] = {}

    @staticmethod
    def _stamp(path: Path):
        try:
            s = path.stat()
            return (s.st_ino, s.st_mtime_ns, s.st_size)
        except OSError:
            return None

    def refresh(self, force: bool = False) -> None:
        seen = (self._stamp(self.record_path), self._stamp(self.keys_path))
        if seen == self._seen and not force:
            return
        self._seen = seen
        try:
            data = json.loads(self.record_path.read_text())
            self.deployments = {name: (int(d["port"]), d["secret"].encode())
                                for name, d in data["deployments"].items()}
            traffic = {name: int(pct) for name, pct in data["traffic"].items() if name in self.deployments}
            self.auth = data.get("auth_mode", "none")
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            self.deployments, traffic, self.auth = {}, {}, "key"  # no readable record: nothing to serve, nothing open
        try:
            keys = json.loads(self.keys_path.read_text())
            self.keys = tuple(keys[k].encode() for k in ("primary", "secondary") if keys.get(k))
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            self.keys = ()
        weights = [(name, pct) for name, pct in sorted(traffic.items()) if pct > 0]
        if weights != self._weights:
            self._weights, self._current = weights, {name: 0 for name, _ in weights}

    def authorised(self, value: bytes | None) -> bool:
        if self.auth != "key":
            return True
        if not value or value[:7].lower() != b"bearer ":
            return False
        given = value[7:].strip()
        return any(hmac.compare_digest(given, key) for key in self.keys)

    def pick(self, wanted: bytes | None) -> tuple[str, int, bytes]:
        """The name, port and secret of the deployment for this request."""
        if wanted:
            name = wanted.decode("latin-1").strip()
            if name not in self.deployments:
                raise Refused(404, f"no deployment named {name!r} on this endpoint: see `wth-solution endpoint status`")
            return name, *self.deployments[name]
        if not self._weights:
            raise Refused(503, "no deployment takes traffic: see `wth-solution endpoint status`")
        total, best = 0, None
        for name, weight in self._weights:  # smooth weighted round-robin (as nginx does it)
            self._current[name] += weight
            total += weight
            if best is None or self._current[name] > self._current[best]:
                best = name
        self._current[best] -= total
        return best, *self.deployments[best]


class Pool:
    """Idle kept-alive connections to each deployment's port."""

    def __init__(self):
        self.idle: dict[int, list[tuple[asyncio.StreamReader, asyncio.StreamWriter]]] = {}

    async def get(self, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        idle = self.idle.get(port)
        while idle:
            reader, writer = idle.pop()
            if not writer.is_closing() and not reader.at_eof():
                return reader, writer
            writer.close()
        reader, writer = await asyncio.open_connection(HOST, port)
        _nodelay(writer)
        return reader, writer

    def put(self, port: int, reader, writer) -> None:
        idle = self.idle.setdefault(port, [])
        if len(idle) < POOL_SIZE:
            idle.append((reader, writer))
        else:
            writer.close()

    def drop_others(self, ports: set[int]) -> None:
        for port in [p for p in self.idle if p not in ports]:
            for _, writer in self.idle.pop(port):
                writer.close()


def _nodelay(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass


def _shown(value: bytes) -> str:
    return repr(value[:40].decode("latin-1"))


def _parse_head(head: bytes) -> tuple[bytes, list[tuple[bytes, bytes]]]:
    """The start line and the header fields (names lower-cased) of a message head as RFC 9112 section 5
    has them; `ValueError` with the reason for a line that is not `name: value`, whitespace before the
    colon, a folded line, or CR, LF or NUL in a value."""
    lines = head[:-4].split(b"\r\n")
    fields = []
    for line in lines[1:]:
        name, sep, value = line.partition(b":")
        if not sep or not TOKEN.fullmatch(name):
            raise ValueError(f"malformed header line {_shown(line)}: a name, a colon, the value "
                             "(no space before the colon, no folded lines)")
        value = value.strip(b" \t")
        if CTL_IN_VALUE.search(value):
            raise ValueError(f"the {_shown(name)} header holds a CR, LF or NUL")
        fields.append((name.lower(), value))
    return lines[0], fields


def _body_length(version: bytes, fields: list[tuple[bytes, bytes]]) -> int:
    """The length of a request's body as RFC 9112 section 6.3 frames it; `Refused` for every framing a
    server must reject (400), a chunked body (411: not accepted here) or one over `MAX_BODY` (413)."""
    hosts = [value for name, value in fields if name == b"host"]
    if len(hosts) > 1 or (version == b"HTTP/1.1" and not hosts):
        raise Refused(400, "send exactly one Host header")
    lengths = [value for name, value in fields if name == b"content-length"]
    codings = [value for name, value in fields if name == b"transfer-encoding"]
    if codings:
        if lengths:
            raise Refused(400, "Transfer-Encoding and Content-Length together: send the body with a Content-Length only")
        if version != b"HTTP/1.1" or b",".join(codings).rsplit(b",", 1)[-1].strip().lower() != b"chunked":
            raise Refused(400, f"Transfer-Encoding {_shown(b', '.join(codings))} does not frame this request's body: "
                               "send a Content-Length")
        raise Refused(411, "send a Content-Length (chunked bodies are not accepted)")
    if not lengths:
        return 0
    if len(lengths) > 1:
        raise Refused(400, "Content-Length is given more than once: send it once")
    if not DIGITS.fullmatch(lengths[0]):
        raise Refused(400, f"Content-Length {_shown(lengths[0])} is not a number of bytes: digits only")
    if len(lengths[0]) > len(str(MAX_BODY)) or int(lengths[0]) > MAX_BODY:
        raise Refused(413, f"request body over {MAX_BODY} bytes")
    return int(lengths[0])


async def _read_body(reader: asyncio.StreamReader, headers: dict[bytes, bytes], limit: int) -> bytes:
    """A deployment's answer body; `ValueError` when its framing is not one of HTTP/1.1's."""
    if b"chunked" in headers.get(b"transfer-encoding", b"").lower():
        chunks, size = [], 0
        while True:
            line = await reader.readuntil(b"\r\n")
            n = int(line.split(b";")[0].strip() or b"0", 16)
            if n == 0:
                while await reader.readuntil(b"\r\n") != b"\r\n":
                    pass
                return b"".join(chunks)
            size += n
            if size > limit:
                raise Refused(502, "the deployment's answer is too large")
            chunks.append(await reader.readexactly(n))
            await reader.readexactly(2)
    length = headers.get(b"content-length")
    if length is None:
        return await reader.read(limit)  # read to the end: the server closes the connection
    if not DIGITS.fullmatch(length):
        raise ValueError(f"Content-Length {_shown(length)}")
    return await reader.readexactly(int(length))


async def _linger(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Send what is written, half-close, and drop what the client still sends for up to `LINGER_S`:
    closing with unread bytes resets the connection, and the client could lose the answer unread."""
    try:
        await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
        async with asyncio.timeout(LINGER_S):
            while await reader.read(64 << 10):
                pass
    except (OSError, TimeoutError):
        pass


def _response(status: int, headers: list[tuple[bytes, bytes]], body: bytes, close: bool) -> bytes:
    out = [b"HTTP/1.1 %d %s" % (status, REASONS.get(status, "").encode())]
    out += [name + b": " + value for name, value in headers]
    out.append(b"Content-Length: %d" % len(body))
    if close:
        out.append(b"Connection: close")
    return b"\r\n".join(out) + b"\r\n\r\n" + body


def _error(status: int, reason: str, close: bool = False, headers: tuple[tuple[bytes, bytes], ...] = ()) -> bytes:
    extra = [(b"WWW-Authenticate", b'Bearer realm="endpoint"')] if status == 401 else []
    return _response(status, [(b"Content-Type", b"application/json"), *extra, *headers],
                     json.dumps({"error": reason}).encode(), close)


class Connections:
    """The open client connections by client address, the idle ones (waiting for a request) in the order
    they fell idle, under the two caps of the module docstring."""

    def __init__(self, total: int, per_client: int):
        self.total, self.per_client = total, per_client
        self.client: dict[asyncio.StreamWriter, str] = {}
        self.count: dict[str, int] = {}
        self.idle: dict[str, dict[asyncio.StreamWriter, None]] = {}

    def admit(self, writer: asyncio.StreamWriter, client: str) -> bool:
        """Count `writer` in, closing an idle connection to make room when a cap is reached; False when
        none can be closed."""
        if self.count.get(client, 0) >= self.per_client:
            if not self._close_idle(client):
                return False
        elif len(self.client) >= self.total:
            owners = [owner for owner, idle in self.idle.items() if idle]
            if not owners or not self._close_idle(max(owners, key=self.count.__getitem__)):
                return False
        self.client[writer] = client
        self.count[client] = self.count.get(client, 0) + 1
        self.idle.setdefault(client, {})
        return True

    def _close_idle(self, client: str) -> bool:
        writer = next(iter(self.idle.get(client, ())), None)
        if writer is None:
            return False
        self.leave(writer)
        writer.close()
        return True

    def waiting(self, writer: asyncio.StreamWriter) -> None:
        if writer in self.client:
            self.idle[self.client[writer]][writer] = None

    def busy(self, writer: asyncio.StreamWriter) -> None:
        if writer in self.client:
            self.idle[self.client[writer]].pop(writer, None)

    def leave(self, writer: asyncio.StreamWriter) -> None:
        client = self.client.pop(writer, None)
        if client is None:
            return
        self.count[client] -= 1
        self.idle[client].pop(writer, None)
        if not self.count[client]:
            del self.count[client], self.idle[client]


class Router:
    def __init__(self, record: Path, keys: Path, header_timeout: float = HEADER_TIMEOUT,
                 max_connections: int = MAX_CONNECTIONS, max_per_client: int = MAX_PER_CLIENT):
        self.state = State(record, keys)
        self.pool = Pool()
        self.header_timeout = header_timeout
        self.connections = Connections(max_connections, max_per_client)
        self.in_flight = 0

    async def _upstream(self, port: int, request: bytes, head_only: bool):
        reader, writer = await self.pool.get(port)
        try:
            writer.write(request)
            async with asyncio.timeout(UPSTREAM_TIMEOUT):
                head = await reader.readuntil(b"\r\n\r\n")
                status_line, headers = _parse_head(head)  # a ValueError here is answered 502
                status = int(status_line.partition(b" ")[2][:3])
                named = dict(headers)
                body = b"" if head_only or status in (204, 304) or 100 <= status < 200 else \
                    await _read_body(reader, named, MAX_BODY)
        except BaseException:
            writer.close()
            raise
        if b"close" in named.get(b"connection", b"").lower() or (b"content-length" not in named
                                                                 and b"transfer-encoding" not in named):
            writer.close()
        else:
            self.pool.put(port, reader, writer)
        return status, [(n, v) for n, v in headers if n not in HOP_BY_HOP], body

    async def forward(self, method: bytes, target: bytes, headers: dict[bytes, bytes], body: bytes):
        lines = [b"%s %s HTTP/1.1" % (method, target), b"Host: %s" % HOST.encode(),
                 b"Content-Length: %d" % len(body)]
        lines += [name + b": " + headers[name] for name in FORWARDED if name in headers]
        head = b"\r\n".join(lines)
        deadline = time.monotonic() + RETRY_S
        while True:
            name, port, secret = self.state.pick(headers.get(DEPLOYMENT_HEADER))
            request = b"%s\r\n%s: Bearer %s\r\n\r\n%s" % (head, KEY_HEADER, secret, body)
            try:
                status, out, data = await self._upstream(port, request, method == b"HEAD")
                return status, [*out, (DEPLOYMENT_HEADER, name.encode())], data  # as Azure ML answers
            except (ConnectionError, asyncio.IncompleteReadError) as err:
                if isinstance(err, asyncio.IncompleteReadError) and err.partial:
                    return 502, [], json.dumps({"error": "the deployment broke off its answer"}).encode()
                # a pooled connection the server had closed, or a deployment a rollout just retired
                if time.monotonic() > deadline:
                    raise Refused(503, "no deployment is serving: see `wth-solution endpoint status`") from None
                self.state.refresh(force=True)
                self.pool.drop_others({port for port, _ in self.state.deployments.values()})
                await asyncio.sleep(0.02)
            except TimeoutError:
                raise Refused(504, f"the deployment did not answer within {UPSTREAM_TIMEOUT:.0f} s") from None
            except (ValueError, asyncio.LimitOverrunError):
                raise Refused(502, "the deployment's answer is not well-formed HTTP/1.1") from None
            except OSError as err:
                raise Refused(502, f"the deployment did not answer ({type(err).__name__})") from None

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        _nodelay(writer)
        peer = writer.get_extra_info("peername")
        try:
            if not self.connections.admit(writer, peer[0] if isinstance(peer, tuple) else ""):
                writer.write(_error(503, "too many connections", close=True))
                return
            first = True
            while True:
                self.connections.waiting(writer)
                try:
                    async with asyncio.timeout(self.header_timeout if first else IDLE_TIMEOUT):
                        head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError, TimeoutError):
                    return
                except asyncio.LimitOverrunError:
                    writer.write(_error(431, f"request headers over {MAX_HEAD} bytes", close=True))
                    await _linger(reader, writer)
                    return
                self.connections.busy(writer)
                first = False
                self.in_flight += 1
                try:
                    close = await self._one(reader, writer, head)
                finally:
                    self.in_flight -= 1
                if close:
                    return
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, TimeoutError):
            pass
        finally:
            self.connections.leave(writer)
            writer.close()

    async def _one(self, reader, writer, head: bytes) -> bool:
        """Answer one request; True when the connection is to be closed."""
        close, unread = True, 0
        try:
            try:
                request_line, fields = _parse_head(head)
            except ValueError as err:
                raise Refused(400, str(err)) from None
            line = REQUEST_LINE.fullmatch(request_line)
            if line is None:
                raise Refused(400, f"the request line {_shown(request_line)} is not `METHOD /path HTTP/1.1`")
            method, target, version = line.groups()
            headers = dict(fields)
            close = version != b"HTTP/1.1" or b"close" in headers.get(b"connection", b"").lower()
            unread = _body_length(version, fields)
            path = target.partition(b"?")[0]
            allowed = ALLOWED.get(path)
            if allowed is not None and method not in allowed.split(b", "):
                raise Refused(405, f"{path.decode('latin-1')} takes {allowed.decode()}", ((b"Allow", allowed),))
            self.state.refresh()
            if not (method in (b"GET", b"HEAD") and path == b"/") and \
                    not self.state.authorised(headers.get(KEY_HEADER)):
                raise Refused(401, "this endpoint wants a key: send Authorization: Bearer <key>"
                              if KEY_HEADER not in headers else "the key is not valid for this endpoint")
            try:
                async with asyncio.timeout(BODY_TIMEOUT):
                    body = await reader.readexactly(unread) if unread else b""
            except TimeoutError:
                raise Refused(408, f"the request body did not arrive within {BODY_TIMEOUT:.0f} s") from None
            unread = 0
            status, out, data = await self.forward(method, target, headers, body)
        except Refused as refused:
            if refused.status not in CLOSING and not unread:
                writer.write(_error(refused.status, str(refused), close, refused.headers))
                return close
            writer.write(_error(refused.status, str(refused), True, refused.headers))  # its body left unread
            await _linger(reader, writer)
            return True
        writer.write(_response(status, out, data, close))
        return close

    async def serve(self, host: str, port: int, stop: asyncio.Event) -> None:
        server = await asyncio.start_server(self.handle, host, port, limit=MAX_HEAD, backlog=512)
        print(f"router on http://{host}:{port}/score following {self.state.record_path}", flush=True)
        async with server:
            await stop.wait()
            server.close()
            deadline = time.monotonic() + 5
            while self.in_flight and time.monotonic() < deadline:  # finish the requests in hand
                await asyncio.sleep(0.02)


def _at_least_one(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {value!r}")
    return int(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="the endpoint's router (started by `wth-solution deploy`)")
    parser.add_argument("--record", required=True, type=Path)
    parser.add_argument("--keys", required=True, type=Path)
    parser.add_argument("--port", required=True, type=int)
    parser.add_argument("--host", default=HOST)
    parser.add_argument("--header-timeout", type=float, default=HEADER_TIMEOUT, metavar="S",
                        help=f"seconds a client has to send its request headers (default {HEADER_TIMEOUT:.0f})")
    parser.add_argument("--max-connections", type=_at_least_one, default=MAX_CONNECTIONS, metavar="N",
                        help=f"open client connections at most (default {MAX_CONNECTIONS})")
    parser.add_argument("--max-per-client", type=_at_least_one, default=MAX_PER_CLIENT, metavar="N",
                        help=f"open connections from one client address at most (default {MAX_PER_CLIENT})")
    args = parser.parse_args(argv)

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for name in ("SIGTERM", "SIGINT", "SIGBREAK"):
            if hasattr(signal, name):
                signal.signal(getattr(signal, name), lambda *_: loop.call_soon_threadsafe(stop.set))
        await Router(args.record, args.keys, args.header_timeout, args.max_connections,
                     args.max_per_client).serve(args.host, args.port, stop)

    asyncio.run(run())
    return 0


if __name__ == "__main__":
    sys.exit(main())
