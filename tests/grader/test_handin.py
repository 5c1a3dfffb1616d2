"""Hand-in: `wth handin` on a team's laptop, or the hand-in form of `watch --serve --handin` in a team's
browser, writes its entry; `wth-grader admit` appends it to the teams file. Real git (a bare repository
served by `git daemon`), a real HTTP endpoint speaking the contract, the real teams file, the form's real
server on its thread, spoken to over HTTP."""

from __future__ import annotations

import http.client
import io
import re
import subprocess
from urllib.parse import urlencode, urlsplit

import pandas as pd
import pytest
import requests
import yaml
from endpoints import ContractEndpoint
from grader_tools import REPO_ROOT, git_daemon

from grader import cli, handin, serving, teams
from solution import forecast
from wth import cli as wth_cli

TEAMS = """\
# the coach's teams file: this comment stays
event: rehearsal
teams:
  - name: bravo   # written by hand
    workspace: .wth
    endpoint: null
    repo: null
grader_dir: .grader
"""


@pytest.fixture(scope="module")
def remote(tmp_path_factory):
    """A bare repository whose HEAD is `trunk` (not `main`), as `git init` makes on some machines."""
    root = tmp_path_factory.mktemp("remote")
    git = ["git", "-c", "user.email=t@example.com", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q", "-b", "trunk", str(root / "work")], check=True)
    subprocess.run([*git, "-C", str(root / "work"), "commit", "-q", "--allow-empty", "-m", "start"], check=True)
    subprocess.run(["git", "clone", "-q", "--bare", str(root / "work"), str(root / "team.git")], check=True)
    with git_daemon(root) as daemon:
        yield f"{daemon}/team.git"


@pytest.fixture(scope="module")
def endpoint():
    series = pd.Series(range(28), index=pd.date_range("2014-05-04", periods=28), dtype=float)
    served = ContractEndpoint("good", forecast.fit("snaive", series), "1")  # GET answers any path: /health too
    yield served
    served.close()


def _handin(tmp_path, *args: str) -> int:
    return wth_cli.main(["handin", "--out", str(tmp_path / "alpha.yaml"), *args])


def _teams_file(tmp_path, text: str = TEAMS):
    path = tmp_path / "teams.yaml"
    path.write_text(text)
    return path


def _refused(capsys, tmp_path, path, *entries: str) -> str:
    before = path.read_bytes()
    assert cli.main(["admit", *entries, "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("wth-grader admit: ") and "Traceback" not in err
    assert path.read_bytes() == before
    return err


def test_a_team_hands_itself_in_and_the_coach_admits_it(tmp_path, capsys, remote, endpoint):
    root = endpoint.uri.removesuffix("/score")
    assert _handin(tmp_path, "--name", "alpha", "--workspace", root, "--repo", remote, "--endpoint", endpoint.uri) == 0
    out = capsys.readouterr().out
    assert "alpha: repo: ok" in out and "'trunk' is there" in out, out  # the branch: the remote's HEAD
    assert "alpha: workspace: ok" in out and "alpha: endpoint: ok" in out, out
    entry = yaml.safe_load((tmp_path / "alpha.yaml").read_text())
    assert entry["repo"] == {"git": remote, "ref": "trunk"}
    assert handin.check_entry(entry, tmp_path / "alpha.yaml").endpoint.uri == endpoint.uri

    path = _teams_file(tmp_path)
    assert cli.main(["admit", str(tmp_path / "alpha.yaml"), "--config", str(path)]) == 0
    assert "admitted 'alpha'" in capsys.readouterr().out
    config = teams.load(path)
    assert [team.name for team in config.teams] == ["bravo", "alpha"]
    assert config.team("alpha").repo.ref == "trunk" and config.grader_dir.name == ".grader"
    text = path.read_text()
    assert text.startswith(TEAMS.split("teams:")[0]) and "# written by hand" in text  # comments kept

    assert "duplicate team name" in _refused(capsys, tmp_path, path, str(tmp_path / "alpha.yaml"))


@pytest.mark.parametrize("text", [
    "event: e\nteams:\n- name: bravo\n  workspace: .wth\n  endpoint: null\n  repo: null",  # indentless, no final newline
    "event: e\nteams:\n    -   name: bravo\n        workspace: .wth\n        endpoint: null\n        repo: null\n",
])
def test_admit_appends_to_any_block_list(tmp_path, text, remote):
    path = _teams_file(tmp_path, text)
    entry = tmp_path / "alpha.yaml"
    entry.write_text(yaml.safe_dump({"name": "alpha", "workspace": "http://127.0.0.1:1", "endpoint": None,
                                     "repo": {"git": remote, "ref": "trunk"}}))
    assert cli.main(["admit", str(entry), "--config", str(path), "--anyway"]) == 0  # its workspace does not answer
    assert [team.name for team in teams.load(path).teams] == ["bravo", "alpha"]


@pytest.mark.parametrize(("entry", "reason"), [
    ({"python": "/usr/bin/python3"}, "python: not in a hand-in"),
    ({"endpoint": {"uri": "http://127.0.0.1:1/score", "key_env": "BRAVO_ENDPOINT_KEY"}},
     "a team names only its own secrets: ALPHA_ENDPOINT_KEY, not BRAVO_ENDPOINT_KEY"),
    ({"repo": "/home/coach/other-team"}, "repo: a hand-in gives a git URL"),
    ({"workspace": "/home/coach/.wth"}, "workspace: a hand-in gives a tracking URI"),
    ({"endpoint": {"uri": "http://127.0.0.1:1/score", "key": "s3cr3t-value"}}, "inline secrets are refused"),
    ({"repo": {"git": "https://user:s3cr3t-value@example.com/a.git"}}, "in a URL is refused"),
    ({"repo": {"git": "--upload-pack=touch pwned;://x"}}, "expected a git URL"),  # never an option of git
    ({"repo": {"git": "file:///home/coach/solution.git"}}, "not a path of that machine"),
])
def test_a_bad_entry_is_refused_in_one_line(tmp_path, capsys, entry, reason):
    path = _teams_file(tmp_path)
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"name": "alpha", "workspace": "http://127.0.0.1:1", "endpoint": None,
                                   "repo": None, **entry}))
    err = _refused(capsys, tmp_path, path, str(bad))
    assert reason in err and "s3cr3t" not in err, err


def test_an_unreachable_repository_is_reported_and_not_admitted_without_anyway(tmp_path, capsys, remote, endpoint):
    missing = remote.replace("/team.git", "/nowhere.git")
    root = endpoint.uri.removesuffix("/score")
    assert _handin(tmp_path, "--name", "alpha", "--workspace", root, "--repo", missing) == 1
    out = capsys.readouterr().out
    assert "alpha: repo: NOT OK: unreachable: git ls-remote failed" in out and "alpha: endpoint: ok: none given" in out
    assert yaml.safe_load((tmp_path / "alpha.yaml").read_text())["repo"] == {"git": missing}  # the remote's HEAD, later

    path = _teams_file(tmp_path)
    err = _refused(capsys, tmp_path, path, str(tmp_path / "alpha.yaml"))
    assert "team 'alpha' not admitted: repo: unreachable" in err and "--anyway" in err
    assert cli.main(["admit", str(tmp_path / "alpha.yaml"), "--config", str(path), "--anyway"]) == 0
    assert teams.load(path).team("alpha").repo.git == missing


def test_handin_refuses_a_bad_name_before_checking_anything(tmp_path, capsys):
    assert _handin(tmp_path, "--name", "al\x07pha", "--workspace", "http://127.0.0.1:1") == 2
    err = capsys.readouterr().err
    assert err.startswith("wth handin: ") and "control characters" in err and err.count("\n") == 1
    assert not (tmp_path / "alpha.yaml").exists()


@pytest.mark.parametrize(("text", "reason"), [
    ('event: e\nteams: [{name: bravo, workspace: .wth, endpoint: null, repo: null}]\n', "not a [...] list"),
    (TEAMS.replace("endpoint: null", "endpoint: {uri: 'http://127.0.0.1:1/score', key_env: ALPHA_ENDPOINT_KEY}"),
     "ALPHA_ENDPOINT_KEY is already another team's"),
])
def test_admit_refuses_what_it_cannot_append_safely(tmp_path, capsys, text, reason):
    path = _teams_file(tmp_path, text)
    entry = tmp_path / "alpha.yaml"
    entry.write_text(yaml.safe_dump({"name": "alpha", "workspace": "http://127.0.0.1:1",
                                     "endpoint": {"uri": "http://127.0.0.1:1/score", "key_env": "ALPHA_ENDPOINT_KEY"},
                                     "repo": None}))
    assert reason in _refused(capsys, tmp_path, path, str(entry))


def test_admit_refuses_a_missing_or_bad_teams_file_and_makes_nothing(tmp_path, capsys):
    entry = tmp_path / "alpha.yaml"
    entry.write_text(yaml.safe_dump({"name": "alpha", "workspace": "http://127.0.0.1:1", "endpoint": None, "repo": None}))
    assert cli.main(["admit", str(entry), "--config", str(tmp_path / "missing.yaml")]) == 2
    assert "no such teams file" in capsys.readouterr().err
    bad = _teams_file(tmp_path, "event: e\nteams: []\n")
    assert "expected at least one entry" in _refused(capsys, tmp_path, bad, str(entry))
    assert sorted(path.name for path in tmp_path.iterdir()) == ["alpha.yaml", "teams.yaml"]


# --- the hand-in form ------------------------------------------------------------------------------


@pytest.fixture
def desk(tmp_path):
    """The teams file, and the form served beside it as `watch --serve 0 --handin` serves it (a server of its own
    for each test: the bounds on posts are the server's)."""
    path = _teams_file(tmp_path)
    server = serving.serve(teams.load(path).grader_dir, 0, handins_for=path)
    yield f"http://127.0.0.1:{server.server_address[1]}{serving.FORM}", path
    server.shutdown()
    server.server_close()


def _waiting(path) -> list[str]:
    folder = handin.pending(teams.load(path).grader_dir)
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def _reason(page: str) -> str:
    found = re.findall(r'<p id="refused">Not handed in: (.*?)</p>', page)
    assert len(found) == 1 and "\n" not in found[0], page
    return found[0]


def test_a_team_hands_itself_in_by_the_form_and_the_coach_admits_it(desk, capsys, monkeypatch, remote, endpoint):
    url, path = desk
    form = requests.get(url, timeout=5)
    assert form.status_code == 200 and "form-action 'self'" in form.headers["Content-Security-Policy"]
    assert all(f'name="{field}"' in form.text for field in serving.FIELDS)
    monkeypatch.setenv("ALPHA_ENDPOINT_KEY", "the team's key, given to the coach by hand")
    fields = {"name": "alpha", "workspace": endpoint.uri.removesuffix("/score"), "repo": remote,
              "endpoint": endpoint.uri, "endpoint_secret": "ALPHA_ENDPOINT_KEY"}
    answer = requests.post(url, data=fields, timeout=60)
    assert answer.status_code == 200, answer.text
    seen = dict(re.findall(r'<tr data-part="(\w+)"><td>\w+</td><td class="(ok|not-ok)">', answer.text))
    assert seen == {"repo": "ok", "workspace": "ok", "endpoint": "ok"}, answer.text
    assert "&#39;trunk&#39; is there" in answer.text  # what the coach's machine saw: the remote's HEAD
    assert "<code>ALPHA_ENDPOINT_KEY</code> by hand" in answer.text and "given to the coach" not in answer.text
    assert _waiting(path) == [f"{teams.folder_name('alpha')}.yaml"]
    assert requests.post(url, data=fields, timeout=60).status_code == 200  # the same entry again: still one waiting
    other = requests.post(url, data={**fields, "endpoint": "http://127.0.0.1:1/score"}, timeout=60)
    assert other.status_code == 400 and "already waiting for the coach" in _reason(other.text)

    assert cli.main(["admit", "--pending", "--config", str(path)]) == 0
    assert "admitted 'alpha'" in capsys.readouterr().out
    team = teams.load(path).team("alpha")  # the same entry as `wth handin` writes, through the same admit
    assert team.repo.ref == "trunk" and team.endpoint.key_env == "ALPHA_ENDPOINT_KEY"
    assert _waiting(path) == []
    assert cli.main(["admit", "--pending", "--config", str(path)]) == 2
    assert "no hand-in waits there" in capsys.readouterr().err


@pytest.mark.parametrize(("fields", "status", "reason"), [
    ({"name": "alpha"}, 400, "name and workspace are required"),
    ({"name": "alpha", "workspace": "http://127.0.0.1:1", "python": "/usr/bin/python3"}, 400, "&#39;python&#39;: not a field"),
    ({"name": "alpha", "workspace": "http://127.0.0.1:1", "repo": "file:///home/coach/solution.git"}, 400,
     "not a path of that machine"),
    ({"name": "alpha", "workspace": "http://127.0.0.1:1", "endpoint": "http://127.0.0.1:1/score",
      "endpoint_secret": "WTH_HOLDOUT_SEED"}, 400, "a team names only its own secrets: ALPHA_ENDPOINT_KEY"),
    ({"name": "alpha", "workspace": "http://127.0.0.1:1", "repo_secret": "ALPHA_GIT_TOKEN"}, 400,
     "repo_secret names a variable for no repo"),
    ({"name": "al\x07pha", "workspace": "http://127.0.0.1:1"}, 400, "control characters"),
    ({"name": "alpha", "workspace": "http://127.0.0.1:1", "endpoint": "http://u:s3cr3t-value@127.0.0.1:1/score"}, 400,
     "in a URL is refused"),
    ({"name": "Bravo", "workspace": "http://127.0.0.1:1"}, 400,
     "hand-in: team &#39;Bravo&#39;: name: reads as team &#39;bravo&#39; once made a folder name"),
    ("name=alpha&name=beta&workspace=x", 400, "&#39;name&#39;: given twice"),
    ("name=%ff&workspace=x", 400, f"not a form of at most {len(serving.FIELDS)} fields in UTF-8"),
    ("x" * (serving.MAX_FORM_BYTES + 1), 413, "a hand-in is at most 8 KiB"),
])
def test_a_bad_form_is_refused_in_one_line_and_nothing_waits(desk, fields, status, reason):
    url, path = desk
    body = fields if isinstance(fields, str) else urlencode(fields)
    answer = requests.post(url, data=body, headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=30)
    assert answer.status_code == status and reason in _reason(answer.text), answer.text
    assert "s3cr3t" not in _reason(answer.text) and _waiting(path) == []  # the form comes back filled, as posted


def _raw_post(url: str, headers: dict, body: bytes = b"") -> tuple[int, str]:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        connection.putrequest("POST", parts.path)
        for name, value in headers.items():
            connection.putheader(name, value)
        connection.endheaders(body)
        answer = connection.getresponse()
        return answer.status, answer.read().decode()
    finally:
        connection.close()


def test_the_form_is_bounded_and_escapes_what_a_team_sends(desk):
    url, path = desk
    assert _raw_post(url, {"Content-Type": "application/json", "Content-Length": "2"}, b"{}")[0] == 415
    assert _raw_post(url, {"Content-Type": "application/x-www-form-urlencoded", "Transfer-Encoding": "chunked"},
                     b"0\r\n\r\n")[0] == 411
    status, page = _raw_post(url, {"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 411 and "Content-Length" in _reason(page)
    name = '<img src=x onerror="alert(1)">'
    answer = requests.post(url, data={"name": name, "workspace": "http://127.0.0.1:1/<b>"}, timeout=30)
    assert answer.status_code == 200  # handed in: its workspace does not answer yet, said on the page
    assert "<img" not in answer.text and "<b>" not in answer.text  # in the page, and in the form given back filled
    assert 'value="&lt;img src=x onerror=&#34;alert(1)&#34;&gt;"' in answer.text
    assert _waiting(path) == [f"{teams.folder_name(name)}.yaml"]  # named by the grader, not by the team's text
    after = [requests.post(url, data={"name": "x"}, timeout=30).status_code for _ in range(serving.HANDINS_PER_MINUTE)]
    allowed = serving.HANDINS_PER_MINUTE - 3  # three posts counted so far: the bad ones count too
    assert after == [400] * allowed + [429] * 3, after
    assert requests.get(url, timeout=5).status_code == 200  # the page itself stays open
    assert requests.post(url.replace(serving.FORM, "/scoreboard.html"), data={"name": "x"}, timeout=5).status_code == 404


def test_without_handins_there_is_no_form(tmp_path):
    server = serving.serve(tmp_path, 0)
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}{serving.FORM}"
        assert requests.get(url, timeout=5).status_code == 404
        assert requests.post(url, data={"name": "alpha", "workspace": "http://127.0.0.1:1"}, timeout=5).status_code == 404
        assert list(tmp_path.iterdir()) == []
    finally:
        server.shutdown()
        server.server_close()


def test_the_readme_states_the_forms_bounds_as_the_code_sets_them():
    readme = " ".join((REPO_ROOT / "grader" / "README.md").read_text().split())
    for stated in (f"at most {serving.MAX_FORM_BYTES // 1024} KiB read within {serving.TIMEOUT_S} s",
                   f"{serving.HANDINS_PER_MINUTE} posts a minute from one address",
                   f"{serving.CHECKING_AT_ONCE} hand-ins tried at once", f"{handin.MAX_PENDING} waiting at most"):
        assert stated in readme, stated


@pytest.mark.parametrize("fields", [
    {"workspace": "http://127.1:5050"},  # what a team types that copied its own laptop's address
    {"workspace": "http://10.0.0.11:5050", "endpoint": "http://localhost:5001/score"},
    {"workspace": "http://10.0.0.11:5050", "repo": "git://[::ffff:127.0.0.1]/team.git"},
])
def test_from_another_machine_an_address_of_the_coachs_own_is_refused(tmp_path, fields):
    """What the form shows a team comes from the coach's machine: from another machine, no part may name that
    machine itself (its loopback services are not the team's); the coach's own browser may."""
    path = _teams_file(tmp_path)
    desk = serving.HandinDesk(teams.load(path).grader_dir, path)
    body = urlencode({"name": "alpha", **fields}).encode()
    status, shown = desk.post("10.0.0.5", str(len(body)), "application/x-www-form-urlencoded", io.BytesIO(body))
    assert status == 400 and "is the coach's machine itself, not your laptop" in shown["refused"], shown
    assert _waiting(path) == []


def _own_address_on_a_network() -> str:
    import socket

    import psutil

    for addresses in psutil.net_if_addrs().values():
        for found in addresses:
            if found.family == socket.AF_INET and not found.address.startswith("127."):
                return found.address
    pytest.skip("this machine has no IPv4 address but loopback: nothing for a team to name")


def test_from_another_machine_the_coachs_address_on_the_room_network_is_refused(tmp_path):
    """The coach's laptop has an address on the room's network too: a service of the coach's listening on every
    interface (`wth ui --host 0.0.0.0`) answers there, and it is not the team's."""
    own = _own_address_on_a_network()
    path = _teams_file(tmp_path)
    desk = serving.HandinDesk(teams.load(path).grader_dir, path)
    body = urlencode({"name": "alpha", "workspace": f"http://{own}:5050"}).encode()
    status, shown = desk.post("10.0.0.5", str(len(body)), "application/x-www-form-urlencoded", io.BytesIO(body))
    assert status == 400 and f"workspace: {own} is the coach's machine itself" in shown["refused"], shown
    assert _waiting(path) == []
    status, shown = desk.post(own, str(len(body)), "application/x-www-form-urlencoded", io.BytesIO(body))
    assert status == 200, shown  # the coach's own browser, on the room's address: a rehearsal on one machine


class Rebinding:
    """A resolver a team controls (a stand-in for DNS, which this machine has none of): its name answers with a
    public address once, then with this machine's loopback; `mixed` always answers with both."""

    def __init__(self, real):
        self.real, self.asked = real, []

    def __call__(self, host, *args, **kwargs):
        if host not in ("rebind.example", "mixed.example"):
            return self.real(host, *args, **kwargs)
        self.asked.append(host)
        first = host == "rebind.example" and self.asked.count(host) == 1
        public = [(2, 1, 6, "", ("192.0.2.1", 0))]
        loopback = [(2, 1, 6, "", ("127.0.0.1", 0))]
        return public if first else public + loopback if host == "mixed.example" else loopback


def test_a_name_is_kept_as_the_address_checked_so_no_later_lookup_reaches_the_coachs_machine(tmp_path, monkeypatch):
    """DNS rebinding: a name that resolves elsewhere while the form checks it and to the coach's machine after.
    Over plain http:// and git:// (nothing there tells one server from another) the entry keeps the address
    checked; https:// and ssh are left as named (the certificate or the host key names the server)."""
    resolver, own = Rebinding(serving.socket.getaddrinfo), serving._own_addresses()
    monkeypatch.setattr(serving.socket, "getaddrinfo", resolver)
    assert serving._pinned("workspace", "http://rebind.example:5050/x?y=1", own) == "http://192.0.2.1:5050/x?y=1"
    assert resolver.asked == ["rebind.example"]
    with pytest.raises(serving.Refused, match="mixed.example is the coach's machine itself"):  # any address counts
        serving._pinned("endpoint", "http://mixed.example:5001/score", own)
    for kept in ("https://rebind.example/score", "git@rebind.example:team/repo.git", "http://u:p@rebind.example/",
                 "http://unresolvable.invalid:5050", "http://[::1:5050"):
        resolver.asked.clear()
        assert serving._pinned("repo", kept, own) == kept
    resolver.asked.clear()
    assert serving._pinned("repo", "git://rebind.example/team.git", own) == "git://192.0.2.1/team.git"

    path = _teams_file(tmp_path)  # through the form: what waits for the coach holds the address
    desk = serving.HandinDesk(teams.load(path).grader_dir, path)
    resolver.asked.clear()
    body = urlencode({"name": "alpha", "workspace": "http://rebind.example:5050"}).encode()
    status, shown = desk.post("10.0.0.5", str(len(body)), "application/x-www-form-urlencoded", io.BytesIO(body))
    assert status == 200 and shown["values"]["workspace"] == "http://192.0.2.1:5050", shown
    (waiting,) = handin.pending(teams.load(path).grader_dir).iterdir()
    assert yaml.safe_load(waiting.read_text())["workspace"]["tracking_uri"] == "http://192.0.2.1:5050"
