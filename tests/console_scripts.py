"""The console scripts the suite's install put in place (`wth-solution`, `wth`): where pip puts them on
every platform, beside the suite's interpreter in a venv."""

import sysconfig
from pathlib import Path

SCRIPTS = Path(sysconfig.get_path("scripts"))
CLI = [str(SCRIPTS / "wth-solution")]
WTH = [str(SCRIPTS / "wth")]
