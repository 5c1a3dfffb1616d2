"""Real HTTP endpoints on 127.0.0.1 for the clients' tests (smoke test, report, grader), each
misbehaving in one precise way, or none."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from wth import contract


class Served:
    """A real HTTP server on a free port of 127.0.0.1, each request in a daemon thread; `close()` stops it."""

    def _serve(self, handler: type[BaseHTTPRequestHandler]) -> str:
        """Starts serving `handler`; returns the server's base URL."""
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class ContractEndpoint(Served):
    """A real HTTP endpoint on 127.0.0.1. mode `good` serves `fc` as `version` per the contract;
    `error200` answers every /score with 200 {"error": ...}; `echo` refuses /score echoing the key; `redirect` sends /score elsewhere;
    `huge` answers with 5 MB; `bomb` with JSON nested 100,000 deep; `strict` speaks the contract but refuses `interval`
    with 400, as the contract allows."""

    def __init__(self, mode: str = "good", fc=None, version: str = "1",
                 name: str = "transactions-forecast"):
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, status: int, body, headers: dict | None = None):
                raw = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(raw)

            def do_GET(self):
                outer.seen_headers.append(dict(self.headers))
                self._send(200, {"status": "healthy"})

            def do_POST(self):
                outer.seen_headers.append(dict(self.headers))
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if mode == "error200":
                    return self._send(200, {"error": "model not loaded"})
                if mode == "echo":  # a careless endpoint that echoes the caller's key back
                    return self._send(401, {"error": f"key {self.headers.get('Authorization')} not accepted"})
                if mode == "redirect":
                    return self._send(302, b"", {"Location": "http://example.invalid/score"})
                if mode == "huge":
                    return self._send(200, b"[" + b"1," * 2_500_000 + b"1]")
                if mode == "bomb":
                    return self._send(200, b"[" * 100_000 + b"]" * 100_000)
                try:  # a minimal endpoint that speaks the contract: no intervals (it ignores `interval`)
                    request = contract.parse_request(contract.parse_body(raw))
                except contract.BadRequest as err:
                    return self._send(err.status, {"error": str(err)})
                if mode == "strict" and request.interval is not None:
                    return self._send(400, {"error": "this endpoint offers no intervals"})
                frame = fc.predict(request.steps)
                if request.legacy:
                    return self._send(200, {"result": [float(v) for v in frame["forecast"]]})
                return self._send(200, {"forecast": [float(v) for v in frame["forecast"]],
                                        "dates": [f"{d:%Y-%m-%d}" for d in frame.index],
                                        "model": {"name": name, "version": version}})

        self.seen_headers: list[dict] = []
        self.uri = self._serve(Handler) + "/score"


class HangingEndpoint:
    """Accepts TCP connections (the kernel's backlog) and never answers a byte."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.uri = f"http://127.0.0.1:{self.sock.getsockname()[1]}/score"

    def close(self):
        self.sock.close()


class DrippingEndpoint(Served):
    """Answers every request with 200 and its headers at once, then its body one byte every `every_s`
    seconds, for ever: a deadline per read never fires, only one for the whole answer does."""

    def __init__(self, every_s: float = 0.2):
        stop = self.stop = threading.Event()

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _drip(self):
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "1000000")
                self.end_headers()
                self.wfile.flush()
                while not stop.wait(every_s):
                    self.wfile.write(b" ")
                    self.wfile.flush()

            do_GET = do_POST = _drip

        self.uri = self._serve(Handler) + "/score"

    def close(self):
        self.stop.set()
        super().close()
