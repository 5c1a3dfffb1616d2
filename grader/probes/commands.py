"""What a pipeline's shell commands run of a team's repository, read with `shlex` as a shell splits
them and judged by the words executed: never by text a command prints (`echo`) or a comment.

A command runs the team's own code when it runs a file of the repository (`python path/x.py`,
`python -m package.module`, `x.py`), a console command the repository defines (an entry point in
one of its `setup.cfg` / `pyproject.toml` files whose module is in it), or its tests (pytest or
unittest on test files of it). A shell script of the repository (`bash x.sh`, `./x.sh`, `bash -c
TEXT`) is read in turn: what it runs counts, not its name. A path may be relative to a working
directory the grader does not follow: it names the repository file it is, or one it ends by whole
parts (`drift.py` is `tools/drift.py`, never `tools/mydrift.py`).
"""

from __future__ import annotations

import ast
import configparser
import re
import shlex
import tomllib
from dataclasses import dataclass
from pathlib import Path

from .. import parsing
from ..cached_property import cached_property
from .repo import walk

PYTHON = re.compile(r"(python|pythonw|py)(\d+(\.\d+)*)?(\.exe)?", re.I)
PYTESTS = ("pytest", "py.test")
SHELLS = ("bash", "sh", "zsh", "dash", "pwsh", "powershell", "source", ".")
SHELL_SCRIPTS = (".sh", ".bash", ".ps1")
WRAPPERS = ("sudo", "time", "exec", "nohup", "command", "env")  # run the command that follows them
ENV_RUNNERS = ("poetry", "pipenv", "uv", "pdm", "hatch", "conda")  # `X run [options] COMMAND`
ENV_RUNNER_VALUES = ("-n", "--name", "-p", "--prefix", "-e", "--env", "--with")
PRINTS = ("echo", "printf", "Write-Host", "Write-Output")
PYTEST_VALUES = ("-k", "-m", "-p", "-c", "-o", "-W", "-n", "-r", "--rootdir", "--junitxml", "--junit-xml", "--cov",
                 "--cov-report", "--cov-config", "--basetemp", "--confcutdir", "--durations", "--maxfail", "--tb",
                 "--ignore", "--ignore-glob", "--deselect", "--log-level", "--timeout", "--override-ini",
                 "--import-mode", "--color")  # options whose value is the next word
ASSIGNMENT = re.compile(r"[A-Za-z_]\w*=.*")
MACRO = re.compile(r"\$\(([\w.]+)\)")  # Azure's $(Build.SourcesDirectory): a variable, not a subshell
LEFT_EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}")  # a template expression nothing expanded: one word
ROOT_PREFIX = re.compile(r"^(\$\{[\w.]+\}|\$\w+)/")  # $(Build.SourcesDirectory)/, $GITHUB_WORKSPACE/
TEST_FILE = re.compile(r"(^|/)(test_[^/]*|[^/]*_test)\.py$")
MAX_SCRIPT_BYTES = 200_000
MAX_SCRIPT_DEPTH = 3
MAX_IMPORTED = 40  # files of the repository read to learn what a step's code calls


def split(text: str) -> list[list[str]]:
    """The simple commands of a shell script, each as its words: lines continued at a trailing `\\`
    joined, split at ; && || | & ( ), comments and redirection targets dropped. A quote left open
    runs on over the next lines, as a shell reads it."""
    text = MACRO.sub(r"${\1}", text)
    text = LEFT_EXPRESSION.sub(lambda m: "${" + re.sub(r"[^\w.]+", "_", m.group(1).strip()) + "}", text)
    text = re.sub(r"\\\r?\n", " ", text)
    commands, pending = [], ""
    for line in text.splitlines():
        pending += line + "\n"
        try:
            tokens = _tokens(pending)
        except ValueError:  # an open quote: the command goes on on the next line
            continue
        pending = ""
        commands += _simple(tokens)
    return commands + (_simple(pending.split()) if pending else [])


def _tokens(text: str) -> list[str]:
    lexer = shlex.shlex(text, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    return list(lexer)


def _simple(tokens: list[str]) -> list[list[str]]:
    out, words, redirect = [], [], False
    for token in tokens:
        if token and all(c in "();<>|&" for c in token):
            redirect = "<" in token or ">" in token
            if redirect and words and words[-1].isdigit():
                words.pop()  # the descriptor of 2>&1
            if not redirect and words:
                out.append(words)
                words = []
        elif redirect:
            redirect = False  # the file a redirection names is not an argument
        else:
            words.append(token)
    return out + ([words] if words else [])


def unwrap(words: tuple[str, ...] | list[str]) -> list[str]:
    """The command a line executes: without leading VAR=value assignments and wrappers (sudo, env,
    time, `poetry run`, `conda run -n ENV`, ...)."""
    words = list(words)
    while words:
        if ASSIGNMENT.fullmatch(words[0]):
            words = words[1:]
        elif words[0] in WRAPPERS:
            words = words[1:]
            while words and words[0].startswith("-"):
                words = words[1:]
        elif words[0] in ENV_RUNNERS and len(words) > 1 and words[1] == "run":
            words = words[2:]
            while words and words[0].startswith("-"):
                words = words[2:] if words[0] in ENV_RUNNER_VALUES else words[1:]
        else:
            break
    return words


def program(word: str) -> str:
    """A command word's program name: `.venv/bin/python` -> python, `C:\\tools\\x.exe` -> x.exe."""
    return re.split(r"[\\/]", word)[-1]


def mentions(words, stem: str) -> bool:
    """Whether a name part of `words` (options left out) holds `stem`: `src/train_model.py` has the parts
    src, train, model, py; "retrain" holds "train"."""
    text = " ".join(w for w in words if not w.startswith("-")).lower()
    return any(stem in part for part in re.split(r"[^a-z0-9]+", text))


def leading(words: list[str]) -> tuple[str, ...]:
    """The words before the first option: a program's subcommand (`pipeline build --source x`)."""
    out = []
    for word in words:
        if word.startswith("-"):
            break
        out.append(word)
    return tuple(out)


@dataclass(frozen=True)
class Command:
    words: tuple[str, ...]
    via: str = ""  # the repository's shell script it is read from ("": the pipeline step itself)

    @property
    def text(self) -> str:
        said = " ".join(self.words)
        return (said if len(said) <= 160 else said[:157] + "...") + (f" (in {self.via})" if self.via else "")


class _Named:
    named: tuple[str, ...]  # what names the step: the program, the file it runs, its subcommand

    def mentions(self, stem: str) -> bool:
        """Whether the program, the file it runs or its subcommand is named `stem` (in part)."""
        return mentions(self.named, stem)


@dataclass(frozen=True)
class Runs(_Named):
    """A command that runs the team's own code."""

    kind: str  # tests | script | module | command
    path: str  # the repository file it runs; for tests the file or folder tested ("." the whole repository)
    command: Command
    named: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """What it runs, as a check's evidence names it."""
        if self.kind == "command":
            return f"{' '.join(self.named[:1] + self.named[2:])} ({self.path})"
        return self.command.text if self.kind == "tests" else self.path


@dataclass(frozen=True)
class Unresolved(_Named):
    """A command that names something to run that the repository does not hold."""

    command: Command
    why: str
    named: tuple[str, ...] = ()  # what it meant to run

    @property
    def text(self) -> str:
        return f"`{self.command.text}` ({self.why})"


@dataclass(frozen=True)
class Reads:
    """A command that hands a shell script to a shell: the script's commands count in its place."""

    text: str
    where: str


class RepoCode:
    """A repository's files, as a command may name them (one listing per instance)."""

    def __init__(self, root: Path):
        self.root = root

    @cached_property
    def files(self) -> list[str]:
        """Its files, but for links to outside it (their text would reach a team's report)."""
        root = self.root.resolve()
        return [p.relative_to(self.root).as_posix() for p in walk(self.root, "") if p.resolve().is_relative_to(root)]

    @cached_property
    def _by_name(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for rel in self.files:
            out.setdefault(program(rel), []).append(rel)
        return out

    def find(self, path: str, folder: bool = False) -> str | None:
        """`path` as a file (or, with `folder`, a folder: "." the root) of the repository: relative to
        its root, or the end of one by whole parts."""
        path = ROOT_PREFIX.sub("", path.replace("\\", "/"))
        while path.startswith("./"):
            path = path[2:]
        path = path.rstrip("/")
        if path in ("", "."):
            return "." if folder else None
        if path.startswith(("/", "..", "$")):
            return None
        named = self._by_name.get(program(path), [])
        found = next((f for f in named if f == path), None) or next((f for f in named if f.endswith("/" + path)), None)
        if found or not folder:
            return found
        for f in self.files:
            if f.startswith(path + "/"):
                return path
            if (at := f.find(f"/{path}/")) >= 0:
                return f[:at + 1 + len(path)]
        return None

    @cached_property
    def console(self) -> dict[str, str | None]:
        """The console commands the repository defines: {name: its module's file, None when that
        module is not in the repository}."""
        out: dict[str, str | None] = {}
        for rel in self.files:
            if program(rel) not in ("setup.cfg", "pyproject.toml"):
                continue
            base = rel.rpartition("/")[0]
            folders = [f"{base}/", f"{base}/src/"] if base else ["", "src/"]
            for name, target in entry_points(self.root / rel):
                module = target.split(":")[0].strip().replace(".", "/")
                files = [f"{folder}{module}{end}" for folder in folders for end in (".py", "/__init__.py")]
                out.setdefault(name, next((f for f in files if f in self._by_name.get(program(f), [])), None))
        return out

    def calls(self, path: str) -> frozenset[str]:
        """The names of the functions called (and keyword arguments passed) by the Python file `path` of
        the repository and by the files of it that it imports at their top level, transitively: what
        running it does. Imports inside functions are not followed (a command line's every subcommand
        would count)."""
        found: set[str] = set()
        todo, seen = [path], set()
        while todo and len(seen) < MAX_IMPORTED:
            rel = todo.pop()
            if rel in seen or not rel.endswith(".py"):
                continue
            seen.add(rel)
            tree = self._tree(rel)
            if tree is None:
                continue
            for node in ast.walk(tree):
                if isinstance(node, ast.Call):
                    func = node.func
                    found.add(func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", ""))
                    found.update(k.arg for k in node.keywords if k.arg)
            todo += [f for node in tree.body for f in self._imported(rel, node)]
        return frozenset(found)

    def _tree(self, rel: str) -> ast.Module | None:
        file = self.root / rel
        try:
            if file.stat().st_size > MAX_SCRIPT_BYTES:
                return None
            return parsing.parse(file.read_text(encoding="utf-8", errors="replace"))
        except (OSError, SyntaxError, ValueError):
            return None

    def _imported(self, rel: str, node: ast.stmt) -> list[str]:
        """The repository's files a top-level import statement of `rel` brings in."""
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the file's package, one folder up per further dot
                package = rel.split("/")[:-1]
                package = package[:len(package) - (node.level - 1)]
                base = ".".join([*package, *([base] if base else [])])
            modules = [base] + [f"{base}.{alias.name}" if base else alias.name for alias in node.names]
        else:
            return []
        out = []
        for module in modules:
            path = module.replace(".", "/")
            found = self.find(f"{path}.py") or self.find(f"{path}/__init__.py")
            if found:
                out.append(found)
        return out

    def commands(self, script: str, via: str = "", depth: int = 0) -> list[Command]:
        """The commands of shell text, followed into the repository's shell scripts it runs."""
        out = []
        for words in split(script):
            command = Command(tuple(words), via)
            out.append(command)
            found = self.runs(command)
            if isinstance(found, Reads) and depth < MAX_SCRIPT_DEPTH:
                out += self.commands(found.text, found.where, depth + 1)
        return out

    def runs(self, command: Command) -> Runs | Reads | Unresolved | None:
        """What `command` runs of the repository; None: nothing it names (a tool, `cd`, `export`)."""
        words = unwrap(command.words)
        if not words:
            return None
        head = program(words[0])
        if PYTHON.fullmatch(head):
            return self._python(words[1:], command)
        if head in PYTESTS:
            return self._tests(words[1:], command)
        if head in SHELLS:
            return self._shell(words[1:], command)
        if head.endswith(SHELL_SCRIPTS) or (words[0].startswith("./") and not head.endswith(".py")):
            return self._script_text(words[0], command)
        if head.endswith(".py"):
            return self._file(words, command)
        if head in self.console:
            module = self.console[head]
            if module is None:
                return Unresolved(command, f"{head} is a command your repository defines, but its module is not in it",
                                  (head, *leading(words[1:])))
            return Runs("command", module, command, (head, module, *leading(words[1:])))
        named = (head, *leading(words[1:]))
        if head in PRINTS:
            return Unresolved(command, f"{head} prints, it runs nothing", named)
        return Unresolved(command, f"{head} is neither a script of your repository nor a command it defines", named)

    def _python(self, args: list[str], command: Command):
        """python [options] (-m MODULE | -c CODE | FILE) [args]"""
        i = 0
        while i < len(args):
            word = args[i]
            if word == "-c":
                return None  # inline code
            if word == "-m" and i + 1 < len(args):
                module, rest = args[i + 1], args[i + 2:]
                if module in PYTESTS:
                    return self._tests(rest, command)
                if module == "unittest":
                    return self._tests([], command)
                path = module.replace(".", "/")
                found = self.find(f"{path}.py") or self.find(f"{path}/__main__.py")
                if found is None:
                    return Unresolved(command, f"module {module} is not in your repository", (module,))
                return Runs("module", found, command, (found, *leading(rest)))
            if not word.startswith("-"):
                return self._file(args[i:], command)
            i += 2 if word in ("-W", "-X") else 1
        return None

    def _file(self, words: list[str], command: Command) -> Runs | Unresolved:
        """A Python file run with its arguments: `words[0]` the file."""
        found = self.find(words[0])
        if found is None:
            return Unresolved(command, f"{words[0]} is not a file of your repository", (words[0],))
        return Runs("script", found, command, (found, *leading(words[1:])))

    def _tests(self, args: list[str], command: Command) -> Runs | Unresolved:
        targets, i = [], 0
        while i < len(args):
            word = args[i]
            i += 2 if word in PYTEST_VALUES else 1
            if not word.startswith("-"):
                targets.append(word.split("::")[0])
        found = [f for t in targets if (f := self.find(t, folder=True))]
        if targets and not found:
            return Unresolved(command, f"{targets[0]} is not in your repository", ("pytest",))
        for place in found or ["."]:
            if any(TEST_FILE.search(f) and (place in (".", f) or f.startswith(place + "/")) for f in self.files):
                return Runs("tests", place, command)
        return Unresolved(command, f"no test files (test_*.py, *_test.py) in {'your repository' if not found else found[0]}",
                          ("pytest",))

    def _shell(self, args: list[str], command: Command):
        for i, word in enumerate(args):
            if word in ("-c", "-Command", "-command") and i + 1 < len(args):
                return Reads(args[i + 1], command.via)
            if not word.startswith("-"):
                return self._script_text(word, command)
        return None

    def _script_text(self, path: str, command: Command) -> Reads | Unresolved:
        found = self.find(path)
        if found is None:
            return Unresolved(command, f"{path} is not a file of your repository", (path,))
        file = self.root / found
        if file.stat().st_size > MAX_SCRIPT_BYTES:
            return Unresolved(command, f"{found} is larger than {MAX_SCRIPT_BYTES:,} bytes, not read", (found,))
        return Reads(file.read_text(encoding="utf-8", errors="replace"), found)


def entry_points(path: Path) -> list[tuple[str, str]]:
    """(name, "module:function") of the console scripts a setup.cfg or pyproject.toml declares."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
        if path.name == "setup.cfg":
            parser = configparser.ConfigParser(interpolation=None)
            parser.read_string(text)
            lines = parser.get("options.entry_points", "console_scripts", fallback="").splitlines()
            return [(name.strip(), target.strip()) for name, _, target in (line.partition("=") for line in lines) if target]
        data = tomllib.loads(text)
    except (OSError, configparser.Error, tomllib.TOMLDecodeError, UnicodeError):
        return []
    scripts = {**_table(data, "tool", "poetry", "scripts"), **_table(data, "project", "scripts")}
    return [(name, target if isinstance(target, str) else str(target.get("reference", target.get("callable", ""))))
            for name, target in scripts.items() if isinstance(target, (str, dict))]


def _table(data: dict, *keys: str) -> dict:
    for key in keys:
        data = data.get(key) if isinstance(data, dict) else None
    return data if isinstance(data, dict) else {}
