"""What an upload must be before it is stored: few enough files, small enough, safe
names, notebooks that can be read."""

from __future__ import annotations

import json

import nbformat

from sabaq.archive import safe_relpath
from sabaq.errors import Invalid, TooLarge
from sabaq.i18n import N_


def check_upload(files: dict[str, bytes], max_bytes: int, max_files: int) -> dict[str, bytes]:
    """Refuse too many files, too large files, unsafe names and damaged notebooks."""
    check_file_count(len(files), max_files)
    clean: dict[str, bytes] = {}
    for path, content in files.items():
        rel = safe_relpath(path)
        if len(content) > max_bytes:
            raise TooLarge(
                N_("The file '{path}' is {size} MB; the limit is {limit} MB. Make it smaller (for example, clear large outputs) and try again."),
                path=rel,
                size=round(len(content) / 1e6, 1),
                limit=round(max_bytes / 1e6, 1),
            )
        if rel.endswith(".ipynb"):
            check_notebook(rel, content)
        clean[rel] = content
    return clean


def check_file_count(n: int, max_files: int) -> None:
    if n > max_files:
        raise TooLarge(
            N_("Too many files: {n} were sent, at most {limit} are allowed. Remove files you do not need and try again."),
            n=n,
            limit=max_files,
        )


def check_notebook(path: str, content: bytes) -> None:
    """A notebook must be valid nbformat 4 JSON, or it cannot be graded."""
    invalid: dict = {}
    try:
        # reads validates already: its error is captured and raised here, not validated a second time
        nbformat.reads(content.decode("utf-8"), as_version=4, capture_validation_error=invalid)
        if invalid:
            raise invalid["ValidationError"]
    except (UnicodeDecodeError, json.JSONDecodeError, nbformat.reader.NotJSONError) as e:
        raise Invalid(
            N_("The notebook '{path}' is damaged and cannot be read ({detail}). Open it in JupyterLab, save it, and try again."),
            code="bad_notebook",
            path=path,
            detail=str(e)[:200],
        ) from None
    except Exception as e:  # nbformat.ValidationError and friends
        raise Invalid(
            N_("The notebook '{path}' is damaged and cannot be read ({detail}). Open it in JupyterLab, save it, and try again."),
            code="bad_notebook",
            path=path,
            detail=str(e).splitlines()[0][:200] if str(e) else type(e).__name__,
        ) from None
