"""An Azure ML workspace's identity (subscription, resource group, workspace name), as the Azure tools
take it: one type for the reference solution's target and the grader's teams file."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Workspace:
    subscription_id: str
    resource_group: str
    workspace_name: str

    def __str__(self) -> str:
        return f"Azure ML workspace {self.workspace_name} (resource group {self.resource_group})"
