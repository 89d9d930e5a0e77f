"""User-facing errors: one clear line naming the input and what to do.

Library code raises `SynthfaceError`; the CLI prints its message on one line to
stderr and exits non-zero, without a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


class SynthfaceError(Exception):
    """An error whose message is fit to show the user as-is (one line)."""


def fail(message: str, code: int = 2) -> None:
    """Print one error line to stderr and exit with `code`."""
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(code)


def user_errors(func: F) -> F:
    """Decorate a CLI command so `SynthfaceError` becomes one line and exit code 2."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except SynthfaceError as exc:
            fail(str(exc))
        except KeyboardInterrupt:
            fail("interrupted", code=130)

    return wrapper  # type: ignore[return-value]
