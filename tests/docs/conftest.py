from pathlib import Path

import pytest

from docs_tools import BUNDLED, REPO_ROOT


@pytest.fixture(scope="session")
def bundled_data() -> Path:
    if not BUNDLED.exists():
        pytest.skip(f"{BUNDLED.relative_to(REPO_ROOT)} is missing: generate it with `wth-solution simulate`")
    return BUNDLED
