"""Azure ML: the managed online endpoint's CLI v2 YAML and the SDK v2 blue/green release (`deploy.py`).
Nothing here imports an Azure SDK at import time, so the offline path can import it; see README.md for
what was and was not exercised."""
