"""Turn huggingface_hub's exceptions into one-line `SynthfaceError` messages."""

from __future__ import annotations

from synthface.errors import SynthfaceError


def hub_error(action: str, repo_id: str, err: Exception) -> SynthfaceError:
    """A one-line error for a failed Hub call: what we tried, on which repo, and what to do."""
    from huggingface_hub.errors import (
        HfHubHTTPError,
        HFValidationError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    if isinstance(err, RepositoryNotFoundError):
        hint = "no such repo, or it is private and the token cannot read it"
    elif isinstance(err, RevisionNotFoundError):
        hint = "the repo has no such revision"
    elif isinstance(err, HFValidationError):
        hint = "not a valid repo id (expected USER/NAME)"
    elif isinstance(err, LocalEntryNotFoundError):
        hint = "the Hub could not be reached and nothing is cached (check HF_ENDPOINT and the network)"
    elif isinstance(err, HfHubHTTPError) and err.response is not None:
        status = err.response.status_code
        reason = err.server_message or err.response.reason_phrase
        if status == 401:
            hint = "the token was refused (pass --token, set HF_TOKEN or run `hf auth login`)"
        elif status == 403:
            hint = f"the token may not write there ({reason})"
        else:
            hint = f"the Hub answered {status}: {reason}"
    else:
        hint = f"{type(err).__name__}: {err}"
    hint = " ".join(str(hint).split())  # one line, whatever the server sent
    return SynthfaceError(f"could not {action} {repo_id!r}: {hint}")
