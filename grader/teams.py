"""The coach's teams file (YAML), declared once: these models are its schema, its parser and the source
of the table of its keys in docs/contracts.md (`keys_markdown`).

The smallest file that works is the one in docs/contracts.md (event + teams with name, workspace, endpoint,
repo); everything else has a default, and a team's settings it leaves out come from `defaults`. Secrets
(endpoint keys, Azure DevOps PATs, repository tokens, service principal secrets, the holdout seed) are given
only as the NAME of an environment variable (`*_env` keys): a secret written inline, a credential in a URL
or a token bound for plain `http://` beyond this machine is refused, so a teams file can be shared or
committed without leaking anything. Every mistake is one `ConfigError` line naming the file, the team and
the key; the value of a refused secret is never echoed.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import re
import unicodedata
from datetime import date
from pathlib import Path
from typing import Annotated, ClassVar, Literal, get_args
from urllib.parse import parse_qsl, urlsplit

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.dataclasses import dataclass as pydantic_dataclass
from pydantic.dataclasses import is_pydantic_dataclass

from wth import settings
from wth.azureml import Workspace
from wth.config import EXPERIMENT, HOLDOUT_DAYS, HOLDOUT_START, MODEL_NAME
from wth.errors import UsageError
from wth.store import DB_FILE

from .sandbox.limits import Budgets

DEFAULT_GRADER_DIR = ".grader"
MAX_BYTES = 1024 * 1024  # a room of 40 teams takes about 20 KB
MAX_DEPTH = 32  # the deepest key is 5 levels down
MAX_NODES = 100_000  # values once YAML aliases are expanded
SECRET_NAME = re.compile(r"(token|secret|password|passwd|pwd|pat|key|apikey|sig|signature|code|credentials?)$",
                         re.IGNORECASE)
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
MAX_NAME = 80
FOLDER_SLUG_CHARS = 40
ANYWHERE_ELSE = "secrets go only in *_env keys"

MODEL_CONFIG = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True, str_min_length=1)


# --- value types ----------------------------------------------------------------------------------


class ConfigError(UsageError):
    """The teams file or the command line is wrong; the message is one line naming file, team and key."""


class SecretRefused(ValueError):
    """A refusal about a secret: reported before any other mistake, never echoing the value."""


def _credential(url: str) -> str | None:
    """What in `url` is a credential (userinfo, a token-like query or fragment parameter), if anything."""
    if "://" not in url:
        return None
    parts = urlsplit(url)
    if parts.password:
        return "a password"
    if parts.username and parts.scheme in ("http", "https"):  # ssh://git@host is a login name, not a secret
        return "a user name (where tokens hide)"
    for name, _ in parse_qsl(f"{parts.query}&{parts.fragment}", keep_blank_values=True):
        if SECRET_NAME.search(name):
            return f"the parameter {name!r}"
    return None


def _refuse_credential(value: str, instead: str) -> str:
    found = _credential(value)
    if found:
        raise SecretRefused(f"{found} in a URL is refused: {instead}")
    return value


def _no_credential(instead: str) -> AfterValidator:
    return AfterValidator(lambda value: _refuse_credential(value, instead))


def _loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _over_https_or_loopback(env: str | None, url: str, what: str) -> str | None:
    if env and urlsplit(url).scheme == "http" and not _loopback(url):
        raise SecretRefused(f"the {what} would cross the network in clear over http://: use https:// "
                            "(plain http only to this machine)")
    return env


def _env_name(value: str) -> str:
    if not ENV_NAME.fullmatch(value):
        raise SecretRefused("expected the NAME of an environment variable (letters, digits, _), not its value")
    return value


def _local_path(value, info: ValidationInfo) -> Path:
    """A path of the grading machine: `~` expanded, relative to the teams file's folder."""
    if not isinstance(value, (str, Path)) or not str(value).strip():
        raise ValueError(f"expected a path, got {type(value).__name__}")
    text = _refuse_credential(str(value).strip(), ANYWHERE_ELSE)
    path = Path(os.path.expanduser(text))
    base = (info.context or {}).get("base") or Path.cwd()
    return path if path.is_absolute() else (Path(base) / path).resolve()


def _day(value) -> str:
    if isinstance(value, date):
        return value.isoformat()
    try:
        return date.fromisoformat(str(value)).isoformat()
    except ValueError:
        raise ValueError(f"expected a day as YYYY-MM-DD, got {str(value)[:40]!r}") from None


def _git_url(value: str) -> str:
    if value.startswith("-") or "://" not in value and not re.fullmatch(r"[\w.-]+@[\w.-]+:.+", value):
        raise ValueError(f"expected a git URL (https://, ssh://, git://, file:// or user@host:path), "
                         f"got {value!r}"[:200])
    return value


def _web_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"expected an http(s) URL, got {value!r}"[:200])
    return value


def _ref(value: str) -> str:
    if value.startswith("-") or not re.fullmatch(r"[\w./-]+", value):
        raise ValueError(f"expected a branch or tag name, got {value!r}"[:200])
    return value


def _printable(value: str) -> str:
    if not value.isprintable():
        raise ValueError("expected a name without control characters")
    return value


Text = Annotated[str, _no_credential(ANYWHERE_ELSE)]
EnvName = Annotated[str, AfterValidator(_env_name)]
LocalPath = Annotated[Path, BeforeValidator(_local_path)]
Day = Annotated[str, BeforeValidator(_day)]


class _Model(BaseModel):
    model_config = MODEL_CONFIG
    exactly_one: ClassVar[tuple[tuple[str, ...], str]] = ((), "")  # fields of which exactly one is given; as said

    @model_validator(mode="after")
    def _exactly_one(self):
        names, shown = self.exactly_one
        if names and sum(getattr(self, name) is not None for name in names) != 1:
            raise ValueError(f"give exactly one of {shown}")
        return self


# --- the file's parts -----------------------------------------------------------------------------


class Endpoint(_Model):
    uri: Annotated[str, _no_credential("give the key's environment variable as endpoint.key_env"),
                   AfterValidator(_web_url)] = Field(description="the team's scoring URI")
    key_env: EnvName | None = Field(None, description="the variable holding its key, sent as `Authorization: Bearer`")

    @model_validator(mode="before")
    @classmethod
    def _uri_alone(cls, data):
        return {"uri": data} if isinstance(data, str) else data


class DevOps(_Model):
    """Azure DevOps project whose pipeline runs count for C2.5/C3.6 (PAT from `pat_env`)."""

    organization: Text = Field(description="the Azure DevOps organization")
    project: Text = Field(description="its project")
    base_url: Annotated[str, _no_credential("give the PAT's environment variable as devops.pat_env"),
                        AfterValidator(_web_url)] = Field("https://dev.azure.com", description="the server")
    pat_env: EnvName = Field(description="the variable holding a PAT that reads pipelines")
    build_pipeline: Text = Field("build", description="a pipeline whose name contains this is the build pipeline")
    release_pipeline: Text = Field("release", description="... and this, the release pipeline")

    @field_validator("pat_env")
    @classmethod
    def _pat_over_https(cls, value: str, info: ValidationInfo) -> str:
        return _over_https_or_loopback(value, info.data.get("base_url", ""), "PAT")


@pydantic_dataclass(config=MODEL_CONFIG)
class AzureML(Workspace):
    """`workspace: {azureml: ...}`: the workspace (subscription_id, resource_group, workspace_name, as
    `wth.azureml.Workspace` has them) and how the grader signs in to it."""

    tenant_id: Text | None = Field(None, description="the service principal's tenant")
    client_id: Text | None = Field(None, description="the service principal's application id")
    client_secret_env: EnvName | None = Field(None, description="the variable holding its secret; "
                                              "without it `DefaultAzureCredential` (`az login`)")


class WorkspaceRef(_Model):
    """Where a team's MLflow store is: a local folder (`mlflow.db` inside), a sqlite file, a tracking URI,
    or an Azure ML workspace (whose MLflow tracking URI the Azure ML SDK v2 resolves). A string is a
    tracking URI when it has a scheme other than `file:`, else a path."""

    exactly_one = (("path", "tracking_uri", "azureml"), "path, tracking_uri, azureml (or a folder path or URI alone)")

    path: LocalPath | None = Field(None, description=f"a workspace folder holding `{DB_FILE}`, or a `.db` file")
    tracking_uri: Annotated[str, _no_credential("give the server's token as workspace.token_env")] | None = Field(
        None, description="an MLflow tracking URI (a team laptop's `wth ui --host 0.0.0.0`, any MLflow server)")
    azureml: AzureML | None = Field(None, description="an Azure ML workspace (the `azure` extra)")
    token_env: EnvName | None = Field(None, description="the variable holding the tracking server's token, sent as "
                                      "`Authorization: Bearer` to that server's origin only")

    @field_validator("token_env")
    @classmethod
    def _token_over_https(cls, value: str, info: ValidationInfo) -> str:
        return _over_https_or_loopback(value, info.data.get("tracking_uri") or "", "token")

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, data):
        if not isinstance(data, (str, Path)):
            return data
        text = str(data).strip()
        if "://" in text and not text.startswith("file:"):
            return {"tracking_uri": text}
        return {"path": text.removeprefix("file://")}

    @property
    def kind(self) -> str:
        """folder | sqlite | uri | azureml"""
        if self.azureml:
            return "azureml"
        if self.tracking_uri:
            return "uri"
        return "sqlite" if self.path.suffix == ".db" else "folder"

    @property
    def location(self) -> str:
        if self.azureml:
            ws = self.azureml
            return f"azureml://{ws.subscription_id}/{ws.resource_group}/{ws.workspace_name}"
        return self.tracking_uri or str(self.path)


class RepoSource(_Model):
    """The team's repository: its local clone, or a git URL the grader clones a branch of itself (`ref`,
    else the one `git clone` checks out). A string is a local path."""

    exactly_one = (("path", "git"), "path, git (or a path alone)")

    path: LocalPath | None = Field(None, description="the team's local clone")
    git: Annotated[str, _no_credential("give the token's environment variable as repo.token_env"),
                   AfterValidator(_git_url)] | None = Field(
        None, description="a git URL: `https://`, `ssh://`, `git@host:path`, `git://`, `file://`")
    ref: Annotated[str, AfterValidator(_ref)] | None = Field(
        None, description="the branch or tag graded (with `git`; default: the remote's HEAD, the branch `git clone` "
                          "checks out)")
    token_env: EnvName | None = Field(None, description="the variable holding a read token for an HTTPS `git` URL")
    ssh_key: LocalPath | None = Field(None, description="the private key offered for an `ssh://` `git` URL (a deploy "
                                      "key or a machine user's; without it none: never your own keys or agent)")

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, data):
        return {"path": data} if isinstance(data, (str, Path)) else data

    @field_validator("token_env")
    @classmethod
    def _token_over_https(cls, value: str, info: ValidationInfo) -> str:
        return _over_https_or_loopback(value, info.data.get("git") or "", "token")

    @model_validator(mode="after")
    def _ref_with_git(self) -> RepoSource:
        if self.path is not None and self.model_fields_set & {"ref", "token_env"}:
            raise ValueError("ref and token_env go with git, not with a local path")
        return self


class Holdout(_Model):
    """The coach's ground truth for C3.4, one of: `seed_env`/`seed`, the simulator's continuation of the
    bundled data with a coach-held seed; `file`, a TransactionHistory file holding the days withheld from
    the students (real data). Without any (`Holdout.public()`): the published clean batch, labelled so."""

    exactly_one = (("seed_env", "seed", "file"), "seed_env (recommended), seed, file")

    seed_env: EnvName | None = Field(None, description="the variable holding the coach's secret seed (recommended)")
    seed: Annotated[int, Field(strict=True, ge=0)] | None = Field(
        None, repr=False, description="the seed itself, in the file (prefer seed_env)")
    file: LocalPath | None = Field(None, description="a TransactionHistory file with the withheld days")
    history: LocalPath | None = Field(None, description="the data before the holdout (default: the bundled window)")
    start: Day = Field(HOLDOUT_START, description="the first holdout day")
    days: Annotated[int, Field(strict=True, ge=7, le=365)] = Field(HOLDOUT_DAYS, description="how many days, 7..365")

    @classmethod
    def public(cls) -> Holdout:
        return cls.model_construct()

    @property
    def kind(self) -> str:
        """seed | file | public"""
        if self.file is not None:
            return "file"
        return "public" if self.seed is None and self.seed_env is None else "seed"

    @property
    def label(self) -> str:
        if self.kind == "seed":
            return f"coach's hidden holdout (simulated continuation, secret seed), {self.days} days from {self.start}"
        if self.kind == "file":
            return f"coach's hidden holdout (withheld days of {self.file.name}), {self.days} days from {self.start}"
        return f"PUBLIC default holdout (the published clean batch; not secret), {self.days} days from {self.start}"


def default_holdout() -> Holdout:
    """No holdout in the teams file: the coach's seed from $WTH_HOLDOUT_SEED, else the public default."""
    return Holdout(seed_env=settings.HOLDOUT_SEED.name) if settings.HOLDOUT_SEED.get() else Holdout.public()


class Settings(_Model):
    """A team's settings that `defaults` may give for every team."""

    experiment: Text = Field(EXPERIMENT, description="the MLflow experiment of the team's runs")
    model: Text = Field(MODEL_NAME, description="the registered model's name")
    python: LocalPath | None = Field(None, description="the interpreter of the team's tests "
                                     "(default: the repository's `.venv`, else the grader's)")
    budgets: Budgets = Field(default_factory=Budgets, description="time limits, in seconds")
    devops: DevOps | None = Field(None, description="the Azure DevOps project whose runs count for C2.5/C3.6")
    holdout: Holdout = Field(default_factory=default_holdout,
                             description=f"the team's holdout (default: `holdout`, else ${settings.HOLDOUT_SEED.name} "
                                         "if set, else the public batch)")


def _slug(name: str) -> str:
    return re.sub(r"[^\w.-]", "_", unicodedata.normalize("NFC", name)).lstrip(".")[:FOLDER_SLUG_CHARS] or "team"


def folder_name(name: str) -> str:
    """A team's file name of its own: the name's letters, digits and `-_.`, and a hash of the exact name."""
    return f"{_slug(name)}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"


class Team(Settings):
    name: Annotated[str, AfterValidator(_printable)] = Field(
        max_length=MAX_NAME, description=f"the team's name, as the scoreboard shows it (at most {MAX_NAME} printable "
                                         "characters; each team's folder is made of it)")
    workspace: WorkspaceRef = Field(description="its MLflow store: a folder or `.db` path, a tracking URI "
                                    "(`{tracking_uri: URI}` or alone), or `{azureml: ...}`")
    endpoint: Endpoint | None = Field(description="its scoring endpoint: a URI, `{uri, key_env}`, or null (none yet)")
    repo: RepoSource | None = Field(description="its repository: a path, `{git, ref, token_env, ssh_key}`, or null (none yet)")
    reference: Annotated[bool, Field(strict=True)] = Field(
        False, description="`true` for the coach's reference team: graded and shown apart, never ranked")

    @property
    def has_repo(self) -> bool:
        return self.repo is not None

    @property
    def folder(self) -> str:
        return folder_name(self.name)

    def secret_env_names(self) -> list[str]:
        """Every `*_env` value of the team's settings: the names of its secrets."""
        return [value for key, value in _leaves(self) if key.endswith("_env") and value]

    def secrets(self) -> list[str]:
        """Values of this team's secrets, for redaction; never printed."""
        values = [os.environ.get(n, "") for n in self.secret_env_names()]
        if self.holdout.seed is not None:
            values.append(str(self.holdout.seed))
        return [v for v in values if len(v) >= 6]  # shorter values would mangle dates and numbers


def _leaves(value) -> list[tuple[str, object]]:
    """(field name, value) of every scalar inside a model, depth first in declaration order."""
    out = []
    for name in _fields(type(value)):
        inner = getattr(value, name)
        out += _leaves(inner) if _submodel(type(inner)) else [(name, inner)]
    return out


class Config(_Model):
    event: Text = Field(description="the event's name, on every report")
    holdout: Holdout | None = Field(None, description="the hidden holdout for C3.4, for every team: one of "
                                    "`seed_env`, `seed`, `file` (or under `defaults`, not both)")
    defaults: Settings = Field(default_factory=Settings,
                               description="settings for every team: any key marked *(or defaults)*; a team's "
                                           "own wins (`budgets` key by key)")
    teams: list[Team] = Field(min_length=1, description="one entry per team")
    grader_dir: LocalPath = Field(DEFAULT_GRADER_DIR, validate_default=True,
                                  description="the grader's folder: history, log, `watch` page, clones")
    stuck_after_min: Annotated[float, Field(strict=True, gt=0)] = Field(
        45.0, description="flag a team that passed no new criterion for this many minutes")
    data_file: LocalPath | None = Field(None, description="a TransactionHistory file whose variant, new in every "
                                        "pass, the teams' tests run on (C2.2/C2.3; default: a new simulation)")
    drift_batches: dict[Literal["clean", "drifted"], LocalPath] = Field(
        default_factory=dict, description="`{clean: PATH, drifted: PATH}`: the published batches C5.1/C5.2 "
                                          "match (default: the bundled ones)")
    docs_url: Annotated[str, _no_credential("the docs are public: give their URL without one"),
                        AfterValidator(_web_url)] | None = Field(
        None, description="where `Student/` is browsable: the scoreboard's hints link there")
    _path: Path = PrivateAttr(Path("teams.yaml"))

    @model_validator(mode="before")
    @classmethod
    def _inherit(cls, data):
        """Each team's settings it leaves out, from `defaults` (and the top-level `holdout`)."""
        if not isinstance(data, dict) or not isinstance(data.get("teams"), list):
            return data
        defaults = data.get("defaults") or {}
        if not isinstance(defaults, dict):
            return data
        if "holdout" in data:
            if "holdout" in defaults:
                raise ValueError("holdout and defaults.holdout: give the holdout once")
            defaults = {**defaults, "holdout": data["holdout"]}
        teams = []
        for team in data["teams"]:
            if isinstance(team, dict):
                merged = {**defaults, **team}
                if isinstance(defaults.get("budgets"), dict) and isinstance(team.get("budgets"), dict):
                    merged["budgets"] = {**defaults["budgets"], **team["budgets"]}
                team = merged
            teams.append(team)
        return {**data, "teams": teams}

    @property
    def path(self) -> Path:
        return self._path

    def team(self, name: str) -> Team:
        for team in self.teams:
            if team.name == name:
                return team
        raise ConfigError(f"{self.path}: no team named {name!r} (teams: {', '.join(t.name for t in self.teams)})")


# --- the key table ---------------------------------------------------------------------------------


def _fields(cls) -> dict:
    """A part's fields: a model's own before those it inherits (a team's, then its settings), a dataclass's
    in its order (the workspace's identity, then the sign-in)."""
    if is_pydantic_dataclass(cls):
        return cls.__pydantic_fields__
    own = vars(cls).get("__annotations__", {})
    return dict(sorted(cls.model_fields.items(), key=lambda item: item[0] not in own))


def _submodel(annotation) -> type | None:
    """The model inside a field's type (`X | None`, `list[X]`, `Annotated[X, ...]`), if any."""
    if isinstance(annotation, type) and (issubclass(annotation, BaseModel) or is_pydantic_dataclass(annotation)):
        return annotation
    return next((found for arg in get_args(annotation) if (found := _submodel(arg))), None)


def _model_at(loc: tuple) -> type:
    cls = Config
    for part in loc:
        info = _fields(cls).get(part) if isinstance(part, str) else None
        if info is not None:
            cls = _submodel(info.annotation) or cls
    return cls


def _keys(cls=Config, prefix: str = "", seen: dict | None = None):
    """(key, field, the key a repeated part's keys are listed under) in table order."""
    seen = {} if seen is None else seen
    for name, info in _fields(cls).items():
        key, sub = prefix + name, _submodel(info.annotation)
        yield key, info, seen.get(sub)
        if sub is not None and sub not in seen and name != "defaults":
            seen[sub] = key
            yield from _keys(sub, key + ("[]." if name == "teams" else "."), seen)


def _default(info) -> str:
    if info.is_required():
        return "required" + ("; `null`: none yet" if type(None) in get_args(info.annotation) else "")
    if info.default_factory is not None or info.default is None:
        return ""
    return f"`{str(info.default).lower() if isinstance(info.default, bool) else info.default}`"  # as YAML writes it


def keys_markdown() -> str:
    """The teams file's keys as the Markdown table docs/contracts.md shows (a test keeps it in step)."""
    rows = ["| key | what | default |", "|---|---|---|"]
    for key, info, listed_under in _keys():
        what = info.description or f"the workspace's {key.rsplit('.', 1)[-1].replace('_', ' ')}"
        if key.startswith("teams[].") and key.count(".") == 1 and key.removeprefix("teams[].") in Settings.model_fields:
            what += " *(or defaults)*"
        if listed_under:
            what += f"; its keys as `{listed_under}`"
        rows.append(f"| `{key}` | {what} | {_default(info)} |")
    return "\n".join(rows) + (
        f"\n\nA teams file is at most {MAX_BYTES / 2**20:g} MiB, nested at most {MAX_DEPTH} levels deep, with at most "
        f"{MAX_NODES:,} values once YAML aliases are expanded.")


# --- reading ---------------------------------------------------------------------------------------


class _TooBig(Exception):
    pass


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing a document nested deeper than MAX_DEPTH or holding more than MAX_NODES
    values once aliases are expanded (a billion laughs), before anything walks it."""

    def __init__(self, stream):
        super().__init__(stream)
        self._depth = 0
        self._weight: dict[int, int] = {}

    def compose_node(self, parent, index):
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise _TooBig(f"nested deeper than {MAX_DEPTH} levels")
        alias = self.check_event(yaml.AliasEvent)
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        if alias:  # the anchored node, weighed already unless the alias is inside it
            if id(node) not in self._weight:
                raise _TooBig("an alias refers to the node it is inside")
            return node
        children = node.value if isinstance(node, yaml.SequenceNode) else (
            [part for pair in node.value for part in pair] if isinstance(node, yaml.MappingNode) else [])
        self._weight[id(node)] = 1 + sum(self._weight[id(child)] for child in children)
        if self._weight[id(node)] > MAX_NODES:
            raise _TooBig(f"more than {MAX_NODES:,} values once aliases are expanded")
        return node


_REASONS = {
    "missing": "missing",
    "string_too_short": "expected a non-empty string",
    "string_type": "expected a string, got {kind}",
    "float_type": "expected a number, got {kind}",
    "int_type": "expected an integer, got {kind}",
    "model_type": "expected a mapping, got {kind}",
    "dataclass_type": "expected a mapping, got {kind}",
    "list_type": "expected a list, got {kind}",
    "too_short": "expected at least one entry",
}


def _reason(error: dict, loc: tuple) -> str:
    if error["type"] in ("extra_forbidden", "unexpected_keyword_argument"):
        fields = _fields(_model_at(loc[:-1]))
        name = str(loc[-1])
        if SECRET_NAME.search(name) and not name.endswith("_env"):
            envs = [k for k in fields if k.endswith("_env")]
            where = f"give its name as {' or '.join(envs)}" if envs else ANYWHERE_ELSE
            return f"inline secrets are refused; put it in an environment variable and {where}"
        return f"unknown key (allowed: {', '.join(fields)})"
    if error["type"] == "value_error":
        return str(error["ctx"]["error"])
    if error["type"] in _REASONS:
        return _REASONS[error["type"]].format(kind=type(error["input"]).__name__)
    return error["msg"]


def _refused_first(error: dict) -> bool:
    if isinstance(error.get("ctx", {}).get("error"), SecretRefused):
        return True
    name = str(error["loc"][-1]) if error["loc"] else ""
    return error["type"] in ("extra_forbidden", "unexpected_keyword_argument") and bool(SECRET_NAME.search(name))


def _one_line(err: ValidationError, data, path: Path) -> ConfigError:
    """Pydantic's first complaint (a refused secret before any other) as one line: file, team, key, reason."""
    errors = err.errors(include_url=False)
    error = next((e for e in errors if _refused_first(e)), errors[0])
    loc = tuple(part for part in error["loc"] if part != "[key]")
    who = ""
    if len(loc) >= 2 and loc[0] == "teams" and isinstance(loc[1], int):
        entry = data["teams"][loc[1]]
        name = entry.get("name") if isinstance(entry, dict) else None
        who = f"team {name[:MAX_NAME]!r}: " if isinstance(name, str) and name.strip() else f"team #{loc[1] + 1}: "
        key = ".".join(str(p) for p in loc[2:])
    else:
        key = ".".join(str(p) for p in loc)
    reason = _reason(error, loc)
    return ConfigError(f"{path}: {who}{key + ': ' if key else ''}{reason}")


def _refuse_lookalikes(config: Config) -> None:
    """One folder per team: names that make the same folder name (ignoring case, spaces and
    punctuation, as a case-insensitive file system would) are refused."""
    seen: dict[str, str] = {}
    for team in config.teams:
        folded = unicodedata.normalize("NFKC", _slug(team.name)).casefold()
        if folded not in seen:
            seen[folded] = team.name
            continue
        other = seen[folded]
        if other == team.name:
            raise ConfigError(f"{config.path}: team {team.name!r}: name: duplicate team name")
        raise ConfigError(f"{config.path}: team {team.name!r}: name: reads as team {other!r} once made a "
                          f"folder name ({folded}); give names that differ in more than case, spaces or punctuation")


def parse(data, path: Path) -> Config:
    try:
        config = Config.model_validate(data, context={"base": path.parent.resolve()})
    except ValidationError as err:
        raise _one_line(err, data, path) from None
    config._path = path
    _refuse_lookalikes(config)
    return config


def parse_team(data, path: Path) -> Team:
    """One team's entry alone (a hand-in, grader/handin.py), through the same schema: its mistakes as `parse` words them."""
    return parse({"event": path.name, "teams": [data]}, path).teams[0]


def read_text(path: Path, what: str = "teams file") -> str:
    """A YAML file's text, at most MAX_BYTES of UTF-8; a `ConfigError` line otherwise."""
    try:
        with open(path, "rb") as file:
            raw = file.read(MAX_BYTES + 1)
        if len(raw) > MAX_BYTES:
            raise ConfigError(f"{path}: refused: over {MAX_BYTES / 2**20:g} MiB (a room of teams takes a few KiB)")
        return raw.decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such {what}") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: cannot read the {what} ({type(err).__name__})") from None


def yaml_data(text: str, path: Path):
    """`text` as YAML, by a safe loader bounded in depth and size."""
    try:
        return yaml.load(text, Loader=_Loader)  # a SafeLoader
    except _TooBig as err:
        raise ConfigError(f"{path}: refused: {err}") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{path}: not valid YAML{at}: {getattr(err, 'problem', None) or 'parse error'}") from None
    except ValueError as err:  # a value PyYAML's constructors cannot build, e.g. the date 2014-13-01
        raise ConfigError(f"{path}: not valid YAML: {err}") from None


def load(path: str | os.PathLike) -> Config:
    path = Path(path)
    return parse(yaml_data(read_text(path), path), path)
