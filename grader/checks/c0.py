"""Challenge 00: prerequisites and set-up."""

from __future__ import annotations

from ..context import TeamContext
from ..probes.git import foreign_git, head_commit, head_files
from ..probes.mlflow import WorkspaceMissing
from . import Outcome, check, failed, passed, require_repo, unreachable

STARTER = ("README.md", "requirements.txt", "transactions.py", "acquire.py", "explore.py", "train.py", "plot.py")


@check("C0.1", "Workspace reachable", points=5, anchor="success-criteria")
def workspace_reachable(ctx: TeamContext) -> Outcome:
    where = ctx.team.workspace.location
    try:
        experiments = ctx.mlflow.experiments
    except WorkspaceMissing as err:
        return unreachable("workspace", f"{err}. Create the workspace (Challenge 00) and tell your coach where it is.",
                           workspace=where)
    names = [e.name for e in experiments]
    return passed(f"MLflow workspace {where} answers: {len(names)} experiment(s)", workspace=where,
                  experiments=names[:20])


@check("C0.2", "Team repository holds the starter project", points=5, anchor="success-criteria", source="repo", reads=("repo",))
def starter_project(ctx: TeamContext) -> Outcome:
    repo = require_repo(ctx)
    foreign = foreign_git(repo)
    if foreign:
        return failed(f"{repo}: {foreign}: the grader reads only the repository's own git data; clone it "
                      "as a repository of its own", repo=str(repo))
    wanted = [f"starter/{name}" for name in STARTER]
    committed = head_files(repo, "starter/")
    on_disk = [path for path in wanted if (repo / path).is_file()]
    evidence = {"repo": str(repo), "commit": head_commit(repo), "on_disk": on_disk,
                "committed": sorted(committed & set(wanted)) if committed else []}
    if committed is None:
        where = "holds the starter project but " if len(on_disk) == len(wanted) else ""
        return failed(f"{repo} {where}is not a Git repository with a commit: commit the starter project and push it",
                      **evidence)
    missing = [path for path in wanted if path not in committed]
    if missing:
        uncommitted = [path for path in missing if path in on_disk]
        advice = (f"{len(uncommitted)} of them are on disk but not committed: git add starter && git commit && git push"
                  if uncommitted else "copy resources/starter/ into your repository as starter/, commit and push it")
        return failed(f"the starter project is not in the repository's HEAD commit: missing {', '.join(missing)}; {advice}",
                      missing=missing, uncommitted=uncommitted, **evidence)
    return passed(f"HEAD ({evidence['commit'][:8]}) of {repo} holds the starter project (starter/, {len(STARTER)} files)",
                  **evidence)
