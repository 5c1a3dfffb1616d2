"""CI on the offline path: a push to the team's local origin runs its GitHub Actions workflows with
nektos/act in host mode, and every run is recorded in the team's workspace (`wth ci`)."""
