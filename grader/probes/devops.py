"""Azure DevOps pipelines and their runs through the REST API (Pipelines - List, Runs - List,
api-version 7.1), authenticated with a PAT read from an environment variable.

Response shapes (documented by Microsoft, replayed by the tests from a local HTTP server; this
module is not tested against a live Azure DevOps organisation):
    GET {base}/{organization}/{project}/_apis/pipelines?api-version=7.1
        -> {"count": n, "value": [{"id": 1, "name": "build", "folder": "\\", "revision": 1, "url": ...}]}
    GET {base}/{organization}/{project}/_apis/pipelines/{id}/runs?api-version=7.1
        -> {"count": n, "value": [{"id": 7, "name": "20261126.1", "state": "completed",
                                   "result": "succeeded", "createdDate": ..., "finishedDate": ...,
                                   "pipeline": {"id": 1, "name": "build", ...}, "url": ...}]}
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import quote

import requests

from ..not_gradable import NotGradable
from ..teams import DevOps

API_VERSION = "7.1"


@dataclass
class PipelineRun:
    pipeline: str
    id: int
    name: str
    state: str
    result: str | None
    finished: str | None


class DevOpsProbe:
    def __init__(self, devops: DevOps, connect_s: float = 3.0, read_s: float = 10.0):
        self.devops, self.timeout = devops, (connect_s, read_s)

    def _get(self, path: str) -> dict:
        pat = os.environ.get(self.devops.pat_env)
        if not pat:
            raise NotGradable(f"the Azure DevOps PAT is not set: export {self.devops.pat_env}")
        base = self.devops.base_url.rstrip("/")
        url = f"{base}/{quote(self.devops.organization)}/{quote(self.devops.project)}/_apis/{path}"
        try:
            response = requests.get(url, params={"api-version": API_VERSION}, auth=("", pat),
                                    timeout=self.timeout, allow_redirects=False)
        except requests.RequestException as err:
            raise NotGradable(f"Azure DevOps {self.devops.organization}/{self.devops.project} unreachable: {type(err).__name__}") from None
        if response.status_code in (203, 302, 401):  # a bad PAT gets a sign-in page or a redirect
            raise NotGradable(f"Azure DevOps refused the PAT in {self.devops.pat_env} (HTTP {response.status_code})")
        if response.status_code != 200:
            raise NotGradable(f"Azure DevOps answered HTTP {response.status_code} for {path}")
        try:
            return response.json()
        except ValueError:
            raise NotGradable(f"Azure DevOps answered {path} with something that is not JSON") from None

    def pipelines(self) -> list[dict]:
        return self._get("pipelines").get("value", [])

    def runs(self, name_part: str) -> list[PipelineRun]:
        """Runs of every pipeline whose name contains `name_part` (case-insensitive), newest first."""
        out = []
        for pipeline in self.pipelines():
            if name_part.lower() not in str(pipeline.get("name", "")).lower():
                continue
            for run in self._get(f"pipelines/{int(pipeline['id'])}/runs").get("value", []):
                out.append(PipelineRun(pipeline["name"], int(run["id"]), str(run.get("name", "")),
                                       str(run.get("state", "")), run.get("result"), run.get("finishedDate")))
        return sorted(out, key=lambda r: r.id, reverse=True)

    def succeeded(self, name_part: str) -> tuple[PipelineRun | None, list[PipelineRun]]:
        runs = self.runs(name_part)
        ok = [r for r in runs if r.state == "completed" and r.result == "succeeded"]
        return (ok[0] if ok else None), runs
