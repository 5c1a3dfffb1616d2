"""What `wth-grader watch --serve` serves: the scoreboard page and its JSON from the grader folder, and
the challenge documents (`Student/`, Markdown rendered as HTML with GitHub's heading anchors, and
their images), so that a hint's link (`Student/Challenge-02.md#success-criteria`) opens on a network
without the internet. Nothing else: a path that is not one of the two files, nor a file with a served
suffix inside `Student/` once resolved (no `..`, no hidden file, no link leading out), is 404, for GET
and HEAD alike.

With `--handin`, also the hand-in form (`/handin`): a team's browser posts its entry, which grader/handin.py
checks (`submit`: the schema of `wth handin`, then each part tried from this machine) and leaves waiting
for the coach's `wth-grader admit --pending`; the answer shows the team what this machine saw. Everything
posted is a stranger's: the body is bounded (`MAX_FORM_BYTES`, read within `TIMEOUT_S`), each address
posts at most `HANDINS_PER_MINUTE` times a minute, at most `CHECKING_AT_ONCE` hand-ins are tried at once;
a bad form is a 4xx with one line, and every value shown goes through the scoreboard's escaping. There is
no CSRF token: the form has no login, so a forged post can do nothing a team's own post cannot.
"""

from __future__ import annotations

import collections
import functools
import html
import http.server
import io
import ipaddress
import itertools
import re
import socket
import threading
import time
from pathlib import Path, PurePosixPath
from urllib.parse import parse_qs, unquote, urlsplit

import psutil
from markdown_it import MarkdownIt

from . import handin
from .scoreboard import PAGES
from .teams import ConfigError

HTML, JSON_FILE = "scoreboard.html", "scoreboard.json"
FORM = "/handin"  # the hand-in form's path
FIELDS = {  # the form's fields: the options of `wth handin`, the secrets by their variable's name
    "name": "your team's name, as the scoreboard shows it",
    "repo": "your repository's git URL, as the coach's machine reaches it (https://, ssh://, git://, user@host:path)",
    "ref": "the branch graded (empty: the remote's HEAD)",
    "workspace": "your MLflow server as the coach's machine reaches it: http://<laptop-address>:5050 "
                 "(`wth ui --host 0.0.0.0`)",
    "endpoint": "your scoring URI: http://<laptop-address>:5001/score (empty: none yet)",
    "repo_secret": "if reading your repository needs a token: the NAME of the variable for it, {repo}",
    "endpoint_secret": "if your endpoint wants a key: the NAME of the variable for it, {endpoint}",
    "workspace_secret": "if your MLflow server wants a token: the NAME of the variable for it, {workspace}",
}
MAX_FORM_BYTES = 8 * 1024  # a whole entry takes a few hundred bytes
HANDINS_PER_MINUTE = 6  # posts from one address: a team correcting a typo, never a flood of checks
CHECKING_AT_ONCE = 2  # hand-ins tried at once (each may wait its budgets on git and HTTP)
TIMEOUT_S = 10  # to read a request: a client that drips its body is dropped
DOCS = "Student"  # the folder served under /Student/
TYPES = {".md": "text/html; charset=utf-8", ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
         ".gif": "image/gif", ".svg": "image/svg+xml"}
PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>body {{ font-family: system-ui, sans-serif; max-width: 60rem; margin: 1.5rem auto; padding: 0 1rem; color: #1b1f24; }}
pre, code {{ background: #f6f8fa; }} pre {{ padding: .5rem; overflow-x: auto; }} img {{ max-width: 100%; }}
table {{ border-collapse: collapse; }} th, td {{ border: 1px solid #d0d7de; padding: .3rem .5rem; }}</style>
</head><body>
{body}
</body></html>
"""


def student_docs() -> Path | None:
    """`Student/` of the tree the grader is installed from: the coach's repository, where the package sits
    at the top, or the student kit, where it sits in `tools/`."""
    for folder in Path(__file__).resolve().parents:
        if (folder / DOCS / "README.md").is_file():
            return folder / DOCS
    return None


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: link and code markup dropped, lower case, punctuation out, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    text = re.sub(r"[`*_]", "", text).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def render(markdown: str, title: str) -> str:
    """A Markdown document as a page, each heading with GitHub's anchor as its id (a repeated one gets -1, -2...)."""
    parser = MarkdownIt("commonmark", {"html": False}).enable("table")
    tokens = parser.parse(markdown)
    seen: dict[str, int] = {}
    for opening, inline in itertools.pairwise(tokens):
        if opening.type == "heading_open":
            base = slug(inline.content)
            opening.attrSet("id", base if base not in seen else f"{base}-{seen[base]}")
            seen[base] = seen.get(base, 0) + 1
    return PAGE.format(title=html.escape(title), body=parser.renderer.render(tokens, parser.options, {}))


def doc_file(docs: Path, relative: str) -> Path | None:
    """The file of `docs` that `relative` (a URL path after /Student/, still %-encoded) names, if it may be served."""
    name = unquote(relative)
    parts = PurePosixPath(name).parts
    if not parts or "\\" in name or "\0" in name or any(part in ("..", "/") or part.startswith(".") for part in parts):
        return None
    path = (docs / name).resolve()
    if not path.is_relative_to(docs.resolve()) or path.suffix.lower() not in TYPES or not path.is_file():
        return None
    return path


class Refused(Exception):
    """A post the form does not take: its HTTP status and one line why."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status


def form_fields(body: bytes, content_type: str | None) -> dict[str, str | None]:
    """The fields of a posted form (each one of `FIELDS`, at most once), None where left empty."""
    if (content_type or "").split(";")[0].strip().lower() != "application/x-www-form-urlencoded":
        raise Refused(415, "send the form as application/x-www-form-urlencoded, as a browser does")
    try:
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True, errors="strict",
                          max_num_fields=len(FIELDS))
    except (UnicodeDecodeError, ValueError):
        raise Refused(400, f"not a form of at most {len(FIELDS)} fields in UTF-8") from None
    unknown = [name for name in fields if name not in FIELDS]
    repeated = [name for name, values in fields.items() if len(values) > 1]
    if unknown or repeated:
        raise Refused(400, f"{(unknown or repeated)[0][:40]!r}: {'not a field' if unknown else 'given twice'}"
                      f" (the fields: {', '.join(FIELDS)})")
    return {name: fields.get(name, [""])[0].strip() or None for name in FIELDS}


def form_entry(value: dict[str, str | None]) -> dict:
    """The entry the form's fields give (`handin.entry`'s shape), before any check of its values."""
    for part in handin.SECRETS:
        if value[f"{part}_secret"] and not value[part]:
            raise Refused(400, f"{part}_secret names a variable for no {part}")
    if not value["name"] or not value["workspace"]:
        raise Refused(400, "name and workspace are required")
    return handin.entry(value["name"], value["workspace"], value["repo"], value["ref"], value["endpoint"],
                        {part: value[f"{part}_secret"] for part in handin.SECRETS})


PINNED = ("http", "git")  # schemes with nothing to tell one server from another: a name is kept as its address


def _own_addresses() -> set:
    """Every address of this machine's network interfaces (its address on the room's network too)."""
    return {ipaddress.ip_address(found.address.split("%", 1)[0]) for addresses in psutil.net_if_addrs().values()
            for found in addresses if found.family in (socket.AF_INET, socket.AF_INET6)}


def _is_this_machine(address, own: set) -> bool:
    address = (address.ipv4_mapped or address) if address.version == 6 else address
    return address.is_loopback or address.is_unspecified or address.is_link_local or address in own


def _pinned(part: str, url: str, own: set) -> str:
    """`url` as the grader will reach it, posted from another machine: refused (`Refused`) when its host resolves to
    any address of this machine (loopback, unspecified, link-local, one of `own`, its interfaces'); over a scheme of
    `PINNED` the host becomes the address it resolved to, so no later lookup (`admit`, every pass of `watch`) can be
    answered with this machine's. A URL this machine cannot parse or resolve is kept: the check of the part says so."""
    try:
        parts = urlsplit(url) if "://" in url else None  # else a git URL `user@host:path`
        host = parts.hostname if parts else url.split("@", 1)[-1].split(":", 1)[0]
        port = parts and parts.port
        found = [info[4][0] for info in socket.getaddrinfo(host, None)] if host else []
    except (OSError, UnicodeError, ValueError):
        return url
    addresses = [ipaddress.ip_address(address.split("%", 1)[0]) for address in found]
    if any(_is_this_machine(address, own) for address in addresses):
        raise Refused(400, f"{part}: {host[:80]} is the coach's machine itself, not your laptop: give your laptop's "
                           "address on the room's network")
    if not addresses or parts is None or parts.scheme.lower() not in PINNED or "@" in parts.netloc:
        return url
    literal = str(addresses[0]) if addresses[0].version == 4 else f"[{addresses[0]}]"
    return parts._replace(netloc=literal + (f":{port}" if port else "")).geturl()


def _read(stream, size: int) -> bytes:
    """`size` bytes of `stream` within TIMEOUT_S in all (each read bounded by the socket's own timeout)."""
    deadline, data = time.monotonic() + TIMEOUT_S, b""
    while len(data) < size:
        try:
            chunk = stream.read1(size - len(data))
        except OSError:  # the socket's timeout included
            chunk = b""
        if not chunk or time.monotonic() > deadline:
            raise Refused(400, f"the form's body did not arrive whole within {TIMEOUT_S} s")
        data += chunk
    return data


class HandinDesk:
    """The form's state: where entries wait, and the bounds on who posts how often."""

    def __init__(self, grader_dir: Path, config: Path):
        self.grader_dir, self.config = grader_dir, config
        self._posts: dict[str, collections.deque] = {}
        self._lock = threading.Lock()
        self._checking = threading.BoundedSemaphore(CHECKING_AT_ONCE)

    def _admit_post(self, address: str) -> None:
        now = time.monotonic()
        with self._lock:
            for known in [a for a, times in self._posts.items() if now - times[-1] > 60]:
                del self._posts[known]
            times = self._posts.setdefault(address, collections.deque(maxlen=HANDINS_PER_MINUTE))
            if len(times) == HANDINS_PER_MINUTE and now - times[0] < 60:
                raise Refused(429, f"at most {HANDINS_PER_MINUTE} hand-ins a minute from one address: wait a minute")
            times.append(now)

    def post(self, address: str, length: str | None, content_type: str | None, body) -> tuple[int, dict]:
        """(status, what the page shows) for one post; `body` a file read at most `MAX_FORM_BYTES` of."""
        values = {}
        try:
            self._admit_post(address)
            if length is None or not length.isdigit():
                raise Refused(411, "a post gives its Content-Length")
            if int(length) > MAX_FORM_BYTES:
                raise Refused(413, f"a hand-in is at most {MAX_FORM_BYTES // 1024} KiB")
            values = form_fields(_read(body, int(length)), content_type)
            form_entry(values)  # the form's own rules before any lookup
            poster, own = ipaddress.ip_address(address), _own_addresses()
            if not (poster.is_loopback or poster in own):  # a team's laptop, not the coach's browser
                values.update({part: _pinned(part, values[part], own) for part in handin.SECRETS if values[part]})
            data = form_entry(values)
            if not self._checking.acquire(blocking=False):
                raise Refused(429, "the coach's machine is trying other hand-ins: send it again in a few seconds")
            try:
                team, found = handin.submit(data, self.grader_dir, self.config)
            finally:
                self._checking.release()
        except Refused as refused:
            return refused.status, {"refused": str(refused), "values": values}
        except ConfigError as err:
            return 400, {"refused": str(err), "values": values}
        secrets = [(part, name) for part, name in handin.secret_names(team).items() if name]
        return 200, {"team": team.name, "found": found, "secrets": secrets, "values": values}


def form_page(posted: dict | None = None) -> str:
    """The form, and what a post gave (`HandinDesk.post`): a refusal, or what this machine saw of the entry."""
    named = {part: f"{handin.env_name('alpha', part)} for the team alpha (its name in capitals, any other "
                   "character _): you give the coach its value by hand" for part in handin.SECRETS}
    fields = {name: hint.format(**named) for name, hint in FIELDS.items()}
    return PAGES.get_template("handin.html.j2").render(fields=fields, form=FORM, max_kib=MAX_FORM_BYTES // 1024,
                                                       **(posted or {}))


class _Handler(http.server.SimpleHTTPRequestHandler):
    docs: Path | None = None
    desk: HandinDesk | None = None
    timeout = TIMEOUT_S

    def _page(self, status: int, page: str) -> io.BytesIO:
        body = page.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'")
        self.end_headers()
        return io.BytesIO(body)

    def do_POST(self):
        """The hand-in form's post; anything else 404 (the connection closed: a body left unread is never parsed)."""
        self.close_connection = True
        if urlsplit(self.path).path != FORM or self.desk is None:
            self.send_error(404)
            return
        if self.headers.get("Transfer-Encoding"):
            status, posted = 411, {"refused": "a post gives its Content-Length, not a chunked body"}
        else:
            status, posted = self.desk.post(self.client_address[0], self.headers.get("Content-Length"),
                                            self.headers.get("Content-Type"), self.rfile)
        self.wfile.write(self._page(status, form_page(posted)).getvalue())

    def send_head(self):
        """GET and HEAD: the page, its JSON, a document, or the hand-in form; else 404."""
        path = urlsplit(self.path).path
        if path == FORM and self.desk is not None:
            return self._page(200, form_page())
        if path in ("/", "/index.html"):
            path = "/" + HTML
        if path in ("/" + HTML, "/" + JSON_FILE):
            self.path = path
            return super().send_head()
        found = self.docs and path.startswith(f"/{DOCS}/") and doc_file(self.docs, path[len(DOCS) + 2:])
        if not found:
            self.send_error(404)
            return None
        try:
            body = found.read_bytes()
        except OSError:
            self.send_error(404)
            return None
        kind = TYPES[found.suffix.lower()]
        if found.suffix.lower() == ".md":
            body = render(body.decode("utf-8", errors="replace"), found.stem).encode()
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        return io.BytesIO(body)

    def log_message(self, *args):
        pass


def serve(folder: Path, port: int, host: str = "127.0.0.1", docs: Path | None = None,
          handins_for: Path | None = None) -> http.server.ThreadingHTTPServer:
    """The page server on its own thread: `folder`'s page and JSON, `docs` (default: `student_docs()`), and
    with `handins_for` (a teams file) the hand-in form for it, its entries waiting in `folder` (its grader folder)."""
    settings = {"docs": docs or student_docs(), "desk": HandinDesk(folder, handins_for) if handins_for else None}
    handler = functools.partial(type("Handler", (_Handler,), settings), directory=str(folder))
    server = http.server.ThreadingHTTPServer((host, port), handler)
    threading.Thread(target=server.serve_forever, daemon=True, name="scoreboard-server").start()
    return server
