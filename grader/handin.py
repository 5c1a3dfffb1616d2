"""Hand-in: a team registers itself, the coach admits it.

`wth handin` (the students' command, its options in grader/wth_handin.py) writes one team's entry as a
small YAML file, checked by the teams file's own schema (`teams.parse_team`) and tried at once from the
team's laptop: its repository (`git ls-remote`), its MLflow server, its endpoint (health and one
forecast), one line each. The hand-in form of `watch --serve --handin` (grader/serving.py) takes the
same entry from a team's browser, checks it by the same function (`submit`), tries it from the coach's
machine, shows the team those lines, and writes it to the pending hand-ins (`<grader_dir>/handins/`).
`wth-grader admit ENTRY...` (or `--pending`: every entry waiting there) checks each entry again,
by the same schema and from the coach's machine, and appends it to the teams file as text (its comments
kept), written whole to a temporary file and moved over the old one; `watch` reads it on its next pass.

An entry is a stranger's: it holds only `name`, `workspace` (a tracking URI), `endpoint` and `repo` (a
git URL over the network: not `file://`), never a path of the coach's machine; and the secrets it names are its own: `<TEAM>_ENDPOINT_KEY`,
`<TEAM>_GIT_TOKEN`, `<TEAM>_TRACKING_TOKEN` (`env_name`), which no other team of the file uses, so a team
can never have the grader send it another team's token or one of the grader's own variables.
"""

from __future__ import annotations

import os
import re
import tempfile
import threading
from datetime import date
from pathlib import Path

import yaml
from filelock import FileLock

from wth import contract, settings

from . import teams
from .probes.endpoint import EndpointProbe, Unreachable
from .probes.git import GitFailed, listing
from .teams import ConfigError, Team

ENTRY_KEYS = ("name", "workspace", "endpoint", "repo")
PENDING = "handins"  # the folder of `grader_dir` where entries wait for `admit --pending`
MAX_PENDING = 200  # entries waiting at once: a room of 100 teams, each handing in twice
_GRADERS = {variable.name for variable in settings.VARIABLES}  # names a team may never claim
SECRETS = {"endpoint": "ENDPOINT_KEY", "repo": "GIT_TOKEN", "workspace": "TRACKING_TOKEN"}  # part: its variable's suffix


def env_name(team: str, part: str) -> str:
    """The one variable a team's entry may name for `part`'s secret: the team's name in capitals, then
    the part's suffix. Distinct suffixes keep two teams' names apart (`a b`'s GIT_TOKEN is not `a`'s)."""
    prefix = re.sub(r"[^A-Z0-9]", "_", team.upper())
    return f"{'_' if prefix[:1].isdigit() else ''}{prefix}_{SECRETS[part]}"


def secret_names(team: Team) -> dict[str, str | None]:
    return {"endpoint": team.endpoint and team.endpoint.key_env, "repo": team.repo and team.repo.token_env,
            "workspace": team.workspace.token_env}


def check_entry(data, path: Path) -> Team:
    """One hand-in entry through the teams file's schema, then the hand-in's own limits; `ConfigError` if bad."""
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected one team's entry (a mapping), got {type(data).__name__}")
    extra = [str(key) for key in data if key not in ENTRY_KEYS]
    if extra:
        raise ConfigError(f"{path}: {extra[0][:40]}: not in a hand-in (allowed: {', '.join(ENTRY_KEYS)}); "
                          "the coach adds anything else to the teams file")
    team = teams.parse_team(data, path)
    who = f"{path}: team {team.name!r}"
    if team.workspace.tracking_uri is None:
        raise ConfigError(f"{who}: workspace: a hand-in gives a tracking URI (`wth ui --host 0.0.0.0`), "
                          "not a path or workspace of the coach's machine")
    if team.repo is not None and (team.repo.git is None or team.repo.git.lower().startswith("file:")):
        raise ConfigError(f"{who}: repo: a hand-in gives a git URL the coach's machine reaches over the network, "
                          "not a path of that machine")
    for part, name in secret_names(team).items():
        if name and name != env_name(team.name, part):
            raise ConfigError(f"{who}: {part}: a team names only its own secrets: {env_name(team.name, part)}, "
                              f"not {name}")
    return team


# --- what answers, seen from this machine ----------------------------------------------------------


def remote_head(url: str, timeout: float) -> str | None:
    """The branch a git remote's HEAD names, None if it cannot be asked."""
    try:
        return listing(teams.RepoSource(git=url), timeout).head
    except GitFailed:
        return None


def _unset(name: str | None) -> str | None:
    return f"{name} is not set here: export it to check with it" if name and not os.environ.get(name) else None


def _repo(team: Team) -> tuple[bool, str]:
    source = team.repo
    if unset := _unset(source.token_env):
        return False, unset
    try:
        found = listing(source, team.budgets.check_s, os.environ.get(source.token_env) if source.token_env else None)
    except GitFailed as err:
        return False, f"unreachable: {err}"
    if source.ref not in (*found.branches, *found.tags):
        return False, f"{source.git} has no branch or tag {source.ref!r} (its HEAD is {found.head or 'not said'})"
    return True, f"{source.git} answers, {source.ref!r} is there"


def _http(team: Team, uri: str, key_env: str | None, method: str, path: str | None = None):
    probe = EndpointProbe(teams.Endpoint(uri=uri, key_env=key_env), team.budgets.connect_s, team.budgets.read_s)
    if path is None:
        return probe.request(method, probe.scoring_uri, json_body={"steps": 1}) if method == "POST" else probe.get_root()
    return probe.request(method, uri.rstrip("/") + path)


def _workspace(team: Team) -> tuple[bool, str]:
    uri = team.workspace.tracking_uri
    if not uri.startswith(("http://", "https://")):
        return True, f"{uri} not checked (not an http(s) tracking server)"
    if unset := _unset(team.workspace.token_env):
        return False, unset
    try:
        answer = _http(team, uri, team.workspace.token_env, "GET", "/health")
    except Unreachable as err:
        return False, f"unreachable: {err}"
    if answer.status != 200:
        return False, f"{uri}/health: {answer.excerpt()}, expected 200 (is `wth ui --host 0.0.0.0` running?)"
    return True, f"{uri} answers"


def _endpoint(team: Team) -> tuple[bool, str]:
    endpoint = team.endpoint
    if unset := _unset(endpoint.key_env):
        return False, unset
    try:
        live = _http(team, endpoint.uri, endpoint.key_env, "GET")
        answer = _http(team, endpoint.uri, endpoint.key_env, "POST")
    except Unreachable as err:
        return False, f"unreachable: {err}"
    if live.status != 200:
        return False, f"GET /: {live.excerpt()}, expected 200"
    problems = contract.forecast_problems(answer.body, 1) if answer.status == 200 else [answer.excerpt()]
    if problems:
        return False, f'{{"steps": 1}}: {problems[0]}'
    return True, f"{endpoint.uri} answers a forecast"


def reach(team: Team) -> list[tuple[str, bool, str]]:
    """(part, whether it answers, what was seen) for each part the entry gives, each within the team's budgets."""
    none = (True, "none given: graded as missing until the coach adds one")
    found = [("repo", *(_repo(team) if team.repo else none)), ("workspace", *_workspace(team))]
    found.append(("endpoint", *(_endpoint(team) if team.endpoint else none)))
    return found


def _print(team: Team, found: list[tuple[str, bool, str]]) -> None:
    for part, ok, what in found:
        print(f"{team.name}: {part}: {'ok' if ok else 'NOT OK'}: {what}")


# --- writing ---------------------------------------------------------------------------------------


def _write_atomically(path: Path, text: str) -> None:
    """`text` in a temporary file beside `path`, moved over it: a reader sees the old file or the new one."""
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
        if path.exists():
            os.chmod(temp, path.stat().st_mode & 0o777)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def entry(name: str, workspace: str, repo: str | None = None, ref: str | None = None, endpoint: str | None = None,
          secrets: dict[str, str | None] | None = None) -> dict:
    """One team's entry as the teams file holds it; `secrets`: a part's variable name (`SECRETS`' parts)."""
    secrets = secrets or {}
    data = {"name": name, "workspace": {"tracking_uri": workspace, **_named("token_env", secrets.get("workspace"))},
            "endpoint": None, "repo": None}
    if endpoint:
        data["endpoint"] = {"uri": endpoint, **_named("key_env", secrets.get("endpoint"))}
    if repo:
        data["repo"] = {"git": repo, **_named("ref", ref), **_named("token_env", secrets.get("repo"))}
    return data


def _named(key: str, value: str | None) -> dict:
    return {key: value} if value else {}


def _entry_data(args) -> dict:
    wanted = {"endpoint": args.key, "repo": args.token, "workspace": args.tracking_token}
    return entry(args.name, args.workspace, args.repo, args.ref, args.endpoint,
                 {part: env_name(args.name, part) for part, asked in wanted.items() if asked})


def _checked(data: dict, where: Path) -> Team:
    """`check_entry`, then the branch graded when the entry names none: the remote's HEAD, as a clone would take
    (unknown: left out, and the grader takes the remote's HEAD when it can reach it)."""
    team = check_entry(data, where)
    if team.repo and not team.repo.ref and (head := remote_head(team.repo.git, team.budgets.check_s)):
        data["repo"]["ref"] = head
        team = check_entry(data, where)
    return team


def _write_entry(path: Path, data: dict, how: str) -> None:
    header = (f"# {data['name']}'s hand-in ({date.today()}, {how}), admitted by the coach with `wth-grader admit`.\n"
              "# Secrets are never here, only the names of the variables that hold them.\n")
    _write_atomically(path, header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True))


def handin(args) -> int:
    """Write the team's entry (exit 0 when everything answers, 1 when something does not: written all the same)."""
    out = Path(args.out)
    data = _entry_data(args)
    team = _checked(data, out)
    found = reach(team)
    _print(team, found)
    _write_entry(out, data, "`wth handin`: give this file to your coach")
    print(f"wrote {out}")
    for part, name in secret_names(team).items():
        if name:
            print(f"give your coach the {part}'s secret for the variable {name}, by hand, never in a file")
    return 0 if all(ok for _, ok, _ in found) else 1


def pending(grader_dir: Path) -> Path:
    """The folder where hand-ins wait for the coach's `admit`."""
    return grader_dir / PENDING


_SUBMITTING = threading.Lock()  # the form's threads: one looks at and writes the pending hand-ins at a time


def _read_entry(path: Path) -> dict | None:
    """A waiting entry as written, None if it no longer reads (the coach edited it)."""
    try:
        return teams.yaml_data(teams.read_text(path, "hand-in entry"), path)
    except ConfigError:
        return None


def _waiting_elsewhere(path: Path, data: dict, team: Team, where: Path) -> None:
    """Refuse a hand-in whose name already waits with another entry, or one too many waiting."""
    if path.exists() and _read_entry(path) != data:
        raise ConfigError(f"{where}: team {team.name!r}: already waiting for the coach with another entry: "
                          "ask your coach to remove it first")
    if not path.exists() and len(list(path.parent.glob("*.yaml"))) >= MAX_PENDING:
        raise ConfigError(f"{where}: {MAX_PENDING} hand-ins already wait for the coach: ask your coach")


def _new_to(config: Path, data: dict, where: Path) -> None:
    """Refuse an entry whose name the teams file `config` already has, or one it would read as another's once
    made a folder name: the teams file's own rule, said without the file's path. A file that does not load now
    (the coach is editing it) is left to `admit`."""
    try:
        current = teams.load(config)
    except ConfigError:
        return
    try:
        teams.parse({"event": current.event, "teams": [*teams.yaml_data(teams.read_text(config), config)["teams"],
                                                        data]}, config)
    except ConfigError as err:
        raise ConfigError(f"{where}: {str(err).removeprefix(f'{config}: ')} (of the coach's teams file)") from None


def submit(data: dict, grader_dir: Path, config: Path) -> tuple[Team, list[tuple[str, bool, str]]]:
    """A hand-in from the form for the teams file `config`: checked as `wth handin` checks it, and as new to
    that file, tried from this machine, and written to the pending hand-ins (one file per team, named by
    `Team.folder`, never by the team's text); `ConfigError` if refused. A name already waiting with another
    entry is refused: the coach removes the first."""
    where = Path("hand-in")
    team = _checked(data, where)
    _new_to(config, data, where)
    path = pending(grader_dir) / f"{team.folder}.yaml"
    with _SUBMITTING:
        _waiting_elsewhere(path, data, team, where)
    found = reach(team)
    with _SUBMITTING:  # again: another hand-in of that name may have landed meanwhile
        _waiting_elsewhere(path, data, team, where)
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_entry(path, data, "the hand-in form of `wth-grader watch`")
    return team, found


def _teams_list(text: str, path: Path) -> tuple[int, int]:
    """Where the teams list of the file ends (an offset into `text`) and the column of its `-`."""
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    node = next((value for key, value in root.value if key.value == "teams"), None)
    if not isinstance(node, yaml.SequenceNode) or node.flow_style:
        raise ConfigError(f"{path}: teams: admit appends to a block list (`- name: ...` lines), not a [...] list")
    return node.end_mark.index, node.start_mark.column


def _appended(text: str, entries: list[tuple[Path, dict]], path: Path) -> str:
    """`text` with each entry appended to its teams list, as YAML text: the rest of the file untouched."""
    end, column = _teams_list(text, path)
    head, tail = text[:end], text[end:]
    if head and not head.endswith("\n"):
        head += "\n"
    pad = " " * column
    for source, data in entries:
        block = f"# admitted {date.today()} from {source.name!r}\n" + yaml.safe_dump([data], sort_keys=False,
                                                                                  allow_unicode=True)
        head += "".join(pad + line + "\n" for line in block.splitlines())
    return head + tail


def admit(args) -> int:
    """Admit each entry into the teams file, or none of them (exit 2, one line, the file unchanged); those
    admitted from the pending hand-ins leave them."""
    path = Path(args.config)
    folder = teams.load(path).grader_dir  # a bad teams file is refused before anything is made
    waiting = sorted(pending(folder).glob("*.yaml")) if args.pending else []
    if not args.entries and not waiting:
        raise ConfigError(f"{pending(folder)}: no hand-in waits there" if args.pending else
                          "name the entries to admit, or --pending for those of the hand-in form")
    entries, read = [], {}
    for entry in [*map(Path, args.entries), *waiting]:
        read[entry] = teams.read_text(entry, "hand-in entry")
        data = teams.yaml_data(read[entry], entry)
        entries.append((entry, data, check_entry(data, entry)))
    folder.mkdir(parents=True, exist_ok=True)
    with FileLock(folder / "admit.lock", timeout=30):  # two `admit`s at once lose neither's teams
        text = teams.read_text(path)
        before = teams.parse(teams.yaml_data(text, path), path)
        new_text = _appended(text, [(entry, data) for entry, data, _ in entries], path)
        after = teams.parse(teams.yaml_data(new_text, path), path)  # a duplicate name is refused here
        names = [team.name for team in before.teams] + [team.name for _, _, team in entries]
        if [team.name for team in after.teams] != names:
            raise ConfigError(f"{path}: teams: the appended entries did not land in the teams list; add them by hand")
        refused = None
        for entry, _, handed in entries:
            team = after.team(handed.name)
            others = {name for other in after.teams if other.name != team.name for name in other.secret_env_names()}
            taken = [name for name in secret_names(team).values() if name and (name in others or name in _GRADERS)]
            if taken:
                raise ConfigError(f"{entry}: team {team.name!r}: {taken[0]} is already another team's or the grader's")
            found = reach(team)
            _print(team, found)
            failed = next(((part, what) for part, ok, what in found if not ok), None)
            if failed and refused is None:
                refused = f"{entry}: team {team.name!r} not admitted: {failed[0]}: {failed[1]} (--anyway admits it)"
        if refused and not args.anyway:
            raise ConfigError(refused)
        _write_atomically(path, new_text)
        for entry in waiting:  # unless the form rewrote it meanwhile
            if entry.exists() and teams.read_text(entry, "hand-in entry") == read[entry]:
                entry.unlink()
    print(f"admitted {', '.join(repr(team.name) for _, _, team in entries)} to {path}: graded from the next pass")
    return 0
