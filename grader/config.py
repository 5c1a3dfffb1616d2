"""The coach's teams file (YAML): event, defaults, the hidden holdout, and one entry per team.

The smallest file that works is the one in docs/contracts.md (event + teams with name, workspace, endpoint,
repo). Everything else has a default. Secrets (endpoint keys, Azure DevOps PATs, service principal
secrets) are given only as the NAME of an environment variable (`*_env` keys); a secret written
inline is refused, so a teams file can be shared or committed without leaking anything.
Every mistake is one `ConfigError` line naming the team and the key.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from .errors import ConfigError

HOLDOUT_SEED_ENV = "WTH_HOLDOUT_SEED"  # used when the teams file configures no holdout
DEFAULT_GRADER_DIR = ".grader"
SECRET_NAME = re.compile(r"(token|secret|password|passwd|pat|key|apikey|credentials?)$", re.I)


@dataclass(frozen=True)
class Budgets:
    """Seconds. A check never runs past `check_s` (pytest checks: `pytest_s`), a team never past `team_s`."""

    check_s: float = 30.0
    team_s: float = 240.0
    connect_s: float = 3.0
    read_s: float = 10.0
    pytest_s: float = 120.0


@dataclass(frozen=True)
class Endpoint:
    uri: str
    key_env: str | None = None


@dataclass(frozen=True)
class DevOps:
    """Azure DevOps project whose pipeline runs count for C2.5/C3.6 (PAT from `pat_env`)."""

    organization: str
    project: str
    pat_env: str
    base_url: str = "https://dev.azure.com"
    build_pipeline: str = "build"  # a pipeline whose name contains this counts as the build pipeline
    release_pipeline: str = "release"


@dataclass(frozen=True)
class GitSource:
    """A team repository the grader clones itself: `ref`'s newest commit of `url` (token from `token_env`)."""

    url: str
    ref: str = "main"
    token_env: str | None = None


@dataclass(frozen=True)
class AzureML:
    subscription_id: str
    resource_group: str
    workspace_name: str
    tenant_id: str | None = None
    client_id: str | None = None
    client_secret_env: str | None = None  # service principal; without it DefaultAzureCredential


@dataclass(frozen=True)
class WorkspaceRef:
    """Where a team's MLflow store is: a local folder (`mlflow.db` inside), a sqlite file, a tracking
    URI, or an Azure ML workspace (whose MLflow tracking URI the Azure ML SDK v2 resolves)."""

    kind: str  # folder | sqlite | uri | azureml
    location: str
    azureml: AzureML | None = None


@dataclass(frozen=True)
class Holdout:
    """The coach's ground truth for C3.4.

    kind `seed`: the simulator's continuation of the bundled data with a coach-held seed;
    kind `file`: a TransactionHistory file holding the days withheld from the students (real data);
    kind `public`: no secret configured, the published clean batch (clearly labelled as such).
    """

    kind: str
    start: str = "2014-06-01"
    days: int = 28
    seed: int | None = field(default=None, repr=False)
    seed_env: str | None = None
    file: str | None = None
    history: str | None = None  # data before the holdout (default: the bundled window)

    @property
    def label(self) -> str:
        if self.kind == "seed":
            return f"coach's hidden holdout (simulated continuation, secret seed), {self.days} days from {self.start}"
        if self.kind == "file":
            return f"coach's hidden holdout (withheld days of {Path(self.file).name}), {self.days} days from {self.start}"
        return f"PUBLIC default holdout (the published clean batch; not secret), {self.days} days from {self.start}"


@dataclass(frozen=True)
class Team:
    name: str
    workspace: WorkspaceRef
    endpoint: Endpoint | None
    repo: Path | None  # a local clone; None when there is none yet or when `git` names the repository
    devops: DevOps | None = None
    experiment: str = "wth-mlops"
    model: str = "transactions-forecast"
    python: str | None = None  # interpreter for the team's pytest (default: repo/.venv, else the grader's)
    budgets: Budgets = Budgets()
    holdout: Holdout | None = None
    git: GitSource | None = None  # the repository by URL: cloned into the grader's folder

    @property
    def has_repo(self) -> bool:
        return self.repo is not None or self.git is not None

    def secret_env_names(self) -> list[str]:
        names = [self.endpoint.key_env if self.endpoint else None, self.devops.pat_env if self.devops else None,
                 self.git.token_env if self.git else None]
        if self.workspace.azureml:
            names.append(self.workspace.azureml.client_secret_env)
        if self.holdout and self.holdout.seed_env:
            names.append(self.holdout.seed_env)
        return [n for n in names if n]

    def secrets(self) -> list[str]:
        """Values of this team's secrets, for redaction; never printed."""
        values = [os.environ.get(n, "") for n in self.secret_env_names()]
        if self.holdout and self.holdout.seed is not None:
            values.append(str(self.holdout.seed))
        return [v for v in values if len(v) >= 6]  # shorter values would mangle dates and numbers


@dataclass(frozen=True)
class Config:
    event: str
    path: Path
    teams: list[Team]
    grader_dir: Path
    stuck_after_min: float = 45.0
    data_file: str | None = None  # clean TransactionHistory the team's tests run against (C2.2/C2.3)
    drift_batches: dict[str, str] = field(default_factory=dict)  # {"clean": PATH, "drifted": PATH}
    docs_url: str | None = None  # where Student/ is browsable, e.g. https://github.com/org/repo/blob/main/

    def team(self, name: str) -> Team:
        for team in self.teams:
            if team.name == name:
                return team
        raise ConfigError(f"{self.path}: no team named {name!r} (teams: {', '.join(t.name for t in self.teams)})")


# --- parsing --------------------------------------------------------------------------------------

TOP_KEYS = {"event", "teams", "defaults", "holdout", "grader_dir", "stuck_after_min", "data_file", "drift_batches",
            "docs_url"}
TEAM_KEYS = {"name", "workspace", "endpoint", "repo", "devops", "experiment", "model", "python", "budgets", "holdout"}
DEFAULT_KEYS = TEAM_KEYS - {"name", "workspace", "endpoint", "repo"}
REQUIRED_TEAM_KEYS = ("name", "workspace", "endpoint", "repo")


class _Where:
    """Prefix for error messages: the file, and the team when inside one."""

    def __init__(self, path: Path, team: str | None = None):
        self.path, self.team = path, team

    def fail(self, key: str, reason: str) -> ConfigError:
        who = f"team {self.team!r}: " if self.team else ""
        return ConfigError(f"{self.path}: {who}{key}: {reason}")


def _refuse_inline_secrets(value, key: str, where: _Where) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            name = f"{key}.{k}" if key else str(k)
            if SECRET_NAME.search(str(k)) and not str(k).endswith("_env") and v not in (None, ""):
                raise where.fail(name, f"inline secrets are refused; put it in an environment variable and give its name as {k}_env")
            _refuse_inline_secrets(v, name, where)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _refuse_inline_secrets(v, f"{key}[{i}]", where)
    elif isinstance(value, str) and "://" in value:
        try:
            password = urlsplit(value).password
        except ValueError:
            password = None
        if password:
            raise where.fail(key, "a URI with an inline password is refused; use a *_env key for the secret")


def _mapping(value, key: str, where: _Where, allowed: set[str], required: tuple[str, ...] = ()) -> dict:
    if not isinstance(value, dict):
        raise where.fail(key, f"expected a mapping, got {type(value).__name__}")
    unknown = sorted(str(k) for k in value if k not in allowed)
    if unknown:
        prefix = f"{key}." if key else ""
        raise where.fail(f"{prefix}{unknown[0]}", f"unknown key (allowed: {', '.join(sorted(allowed))})")
    for name in required:
        if name not in value:
            prefix = f"{key}." if key else ""
            raise where.fail(f"{prefix}{name}", "missing")
    return value


def _string(value, key: str, where: _Where) -> str:
    if not isinstance(value, str) or not value.strip():
        raise where.fail(key, f"expected a non-empty string, got {value!r}"[:200])
    return value.strip()


def _env_name(value, key: str, where: _Where) -> str:
    name = _string(value, key, where)
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise where.fail(key, "expected the NAME of an environment variable (letters, digits, _), not its value")
    return name


def _path(value, key: str, where: _Where, base: Path) -> Path:
    path = Path(os.path.expanduser(_string(value, key, where)))
    return path if path.is_absolute() else (base / path).resolve()


def _budgets(value, key: str, where: _Where, base: Budgets) -> Budgets:
    raw = _mapping(value, key, where, set(Budgets.__dataclass_fields__))
    out = {}
    for k, v in raw.items():
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0:
            raise where.fail(f"{key}.{k}", f"expected a positive number of seconds, got {v!r}")
        out[k] = float(v)
    return replace(base, **out)


def _workspace(value, where: _Where, base: Path) -> WorkspaceRef:
    if isinstance(value, str):
        value = value.strip()
        if "://" in value and not value.startswith("file:"):
            return WorkspaceRef("uri", value)
        path = _path(value.removeprefix("file://"), "workspace", where, base)
        return WorkspaceRef("sqlite" if path.suffix == ".db" else "folder", str(path))
    raw = _mapping(value, "workspace", where, {"tracking_uri", "azureml"})
    if len(raw) != 1:
        raise where.fail("workspace", "give exactly one of tracking_uri, azureml (or a folder path)")
    if "tracking_uri" in raw:
        return WorkspaceRef("uri", _string(raw["tracking_uri"], "workspace.tracking_uri", where))
    fields = AzureML.__dataclass_fields__
    az = _mapping(raw["azureml"], "workspace.azureml", where, set(fields),
                  ("subscription_id", "resource_group", "workspace_name"))
    values = {k: (_env_name if k.endswith("_env") else _string)(v, f"workspace.azureml.{k}", where) for k, v in az.items()}
    ref = AzureML(**values)
    return WorkspaceRef("azureml", f"azureml://{ref.subscription_id}/{ref.resource_group}/{ref.workspace_name}", ref)


def _endpoint(value, where: _Where) -> Endpoint | None:
    if value is None:
        return None
    if isinstance(value, str):
        uri = _string(value, "endpoint", where)
        key_env = None
    else:
        raw = _mapping(value, "endpoint", where, {"uri", "key_env"}, ("uri",))
        uri = _string(raw["uri"], "endpoint.uri", where)
        key_env = _env_name(raw["key_env"], "endpoint.key_env", where) if raw.get("key_env") else None
    if urlsplit(uri).scheme not in ("http", "https") or not urlsplit(uri).hostname:
        raise where.fail("endpoint" if isinstance(value, str) else "endpoint.uri", f"expected an http(s) scoring URI, got {uri!r}")
    return Endpoint(uri, key_env)


def _repo(value, where: _Where, base: Path) -> tuple[Path | None, GitSource | None]:
    """`repo:` is a local clone's path, null, or {git: URL, ref: BRANCH, token_env: NAME}."""
    if value is None:
        return None, None
    if not isinstance(value, dict):
        return _path(value, "repo", where, base), None
    raw = _mapping(value, "repo", where, {"git", "ref", "token_env"}, ("git",))
    url = _string(raw["git"], "repo.git", where)
    if "://" not in url and not re.fullmatch(r"[\w.-]+@[\w.-]+:.+", url):
        raise where.fail("repo.git", f"expected a git URL (https://, ssh://, git://, file:// or user@host:path), got {url!r}"[:200])
    if urlsplit(url).scheme in ("http", "https") and urlsplit(url).username:
        raise where.fail("repo.git", "credentials in the URL are refused; give the token's environment variable as token_env")
    ref = _string(raw.get("ref", "main"), "repo.ref", where)
    if ref.startswith("-") or not re.fullmatch(r"[\w./-]+", ref):
        raise where.fail("repo.ref", f"expected a branch or tag name, got {ref!r}"[:200])
    token_env = _env_name(raw["token_env"], "repo.token_env", where) if raw.get("token_env") else None
    return None, GitSource(url, ref, token_env)


def _devops(value, key: str, where: _Where) -> DevOps | None:
    if value is None:
        return None
    raw = _mapping(value, key, where, set(DevOps.__dataclass_fields__), ("organization", "project", "pat_env"))
    values = {k: (_env_name if k == "pat_env" else _string)(v, f"{key}.{k}", where) for k, v in raw.items()}
    return DevOps(**values)


def _holdout(value, key: str, where: _Where, base: Path) -> Holdout:
    raw = _mapping(value, key, where, {"seed", "seed_env", "file", "history", "start", "days"})
    sources = [k for k in ("seed", "seed_env", "file") if k in raw]
    if len(sources) != 1:
        raise where.fail(key, "give exactly one of seed_env (recommended), seed, file")
    start = str(raw.get("start", "2014-06-01"))
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", start):
        raise where.fail(f"{key}.start", f"expected YYYY-MM-DD, got {start!r}")
    days = raw.get("days", 28)
    if isinstance(days, bool) or not isinstance(days, int) or not 7 <= days <= 365:
        raise where.fail(f"{key}.days", f"expected an integer 7..365, got {days!r}")
    history = str(_path(raw["history"], f"{key}.history", where, base)) if "history" in raw else None
    if "seed" in raw:
        if isinstance(raw["seed"], bool) or not isinstance(raw["seed"], int):
            raise where.fail(f"{key}.seed", "expected an integer")
        return Holdout("seed", start, days, seed=raw["seed"], history=history)
    if "seed_env" in raw:
        return Holdout("seed", start, days, seed_env=_env_name(raw["seed_env"], f"{key}.seed_env", where), history=history)
    return Holdout("file", start, days, file=str(_path(raw["file"], f"{key}.file", where, base)), history=history)


def _team_settings(raw: dict, key: str, where: _Where, base: Path, inherited: dict) -> dict:
    """The per-team settings that may also appear under `defaults`."""
    out = dict(inherited)
    for name in ("experiment", "model"):
        if name in raw:
            out[name] = _string(raw[name], f"{key}{name}", where)
    if "python" in raw:
        out["python"] = str(_path(raw["python"], f"{key}python", where, base))
    if "budgets" in raw:
        out["budgets"] = _budgets(raw["budgets"], f"{key}budgets", where, out.get("budgets", Budgets()))
    if "devops" in raw:
        out["devops"] = _devops(raw["devops"], f"{key}devops", where)
    if "holdout" in raw:
        out["holdout"] = _holdout(raw["holdout"], f"{key}holdout", where, base)
    return out


def default_holdout() -> Holdout:
    """No holdout in the teams file: the coach's seed from $WTH_HOLDOUT_SEED, else the public default."""
    if os.environ.get(HOLDOUT_SEED_ENV):
        return Holdout("seed", seed_env=HOLDOUT_SEED_ENV)
    return Holdout("public")


def parse(data, path: Path) -> Config:
    where = _Where(path)
    base = path.parent.resolve()
    raw = _mapping(data, "", where, TOP_KEYS, ("event", "teams"))
    _refuse_inline_secrets({k: v for k, v in raw.items() if k != "teams"}, "", where)
    event = _string(raw["event"], "event", where)
    defaults = _team_settings(_mapping(raw.get("defaults") or {}, "defaults", where, DEFAULT_KEYS),
                              "defaults.", where, base, {})
    if "holdout" in raw:
        defaults["holdout"] = _holdout(raw["holdout"], "holdout", where, base)
    defaults.setdefault("holdout", default_holdout())
    if not isinstance(raw["teams"], list) or not raw["teams"]:
        raise where.fail("teams", "expected a non-empty list of teams")
    teams, seen = [], set()
    for i, entry in enumerate(raw["teams"]):
        name = entry.get("name") if isinstance(entry, dict) else None
        team_where = _Where(path, str(name) if name else f"#{i + 1}")
        _refuse_inline_secrets(entry, "", team_where)
        entry = _mapping(entry, "", team_where, TEAM_KEYS, REQUIRED_TEAM_KEYS)
        name = _string(entry["name"], "name", team_where)
        if name in seen:
            raise team_where.fail("name", "duplicate team name")
        seen.add(name)
        settings = _team_settings(entry, "", team_where, base, defaults)
        repo, git = _repo(entry["repo"], team_where, base)
        teams.append(Team(
            name=name,
            workspace=_workspace(entry["workspace"], team_where, base),
            endpoint=_endpoint(entry["endpoint"], team_where),
            repo=repo, git=git,
            **settings,
        ))
    stuck = raw.get("stuck_after_min", 45)
    if isinstance(stuck, bool) or not isinstance(stuck, (int, float)) or stuck <= 0:
        raise where.fail("stuck_after_min", f"expected a positive number of minutes, got {stuck!r}")
    batches = _mapping(raw.get("drift_batches") or {}, "drift_batches", where, {"clean", "drifted"})
    return Config(
        event=event,
        path=path,
        teams=teams,
        grader_dir=_path(raw.get("grader_dir", DEFAULT_GRADER_DIR), "grader_dir", where, base),
        stuck_after_min=float(stuck),
        data_file=str(_path(raw["data_file"], "data_file", where, base)) if raw.get("data_file") else None,
        drift_batches={k: str(_path(v, f"drift_batches.{k}", where, base)) for k, v in batches.items()},
        docs_url=_string(raw["docs_url"], "docs_url", where) if raw.get("docs_url") else None,
    )


def load(path: str | os.PathLike) -> Config:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such teams file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: cannot read the teams file ({type(err).__name__})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{path}: not valid YAML{at}: {getattr(err, 'problem', None) or 'parse error'}") from None
    return parse(data, path)
