"""What `wth-grader watch --serve` serves: the scoreboard page and its JSON from the grader folder, and
the challenge documents (`Student/`, Markdown rendered as HTML with GitHub's heading anchors, and
their images), so that a hint's link (`Student/Challenge-02.md#success-criteria`) opens on a network
without the internet. Nothing else: a path that is not one of the two files, nor a file with a served
suffix inside `Student/` once resolved (no `..`, no hidden file, no link leading out), is 404, for GET
and HEAD alike.
"""

from __future__ import annotations

import functools
import html
import http.server
import io
import itertools
import re
import threading
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

from markdown_it import MarkdownIt

HTML, JSON_FILE = "scoreboard.html", "scoreboard.json"
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


class _Handler(http.server.SimpleHTTPRequestHandler):
    docs: Path | None = None

    def send_head(self):
        """GET and HEAD: the page, its JSON, or a document; else 404."""
        path = urlsplit(self.path).path
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


def serve(folder: Path, port: int, host: str = "127.0.0.1", docs: Path | None = None) -> http.server.ThreadingHTTPServer:
    """The page server on its own thread: `folder`'s page and JSON, and `docs` (default: `student_docs()`)."""
    handler = functools.partial(type("Handler", (_Handler,), {"docs": docs or student_docs()}), directory=str(folder))
    server = http.server.ThreadingHTTPServer((host, port), handler)
    threading.Thread(target=server.serve_forever, daemon=True, name="scoreboard-server").start()
    return server
