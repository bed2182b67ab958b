"""Content-addressed file storage in the database, and checks on uploaded files."""

from __future__ import annotations

import hashlib
import json

import nbformat
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from sabaq.i18n import N_

from .archive import safe_relpath
from .errors import Invalid, NotFound, TooLarge
from .models import Blob


def put_blob(db: Session, data: bytes) -> str:
    """Store content once; return its sha256. Safe when two writers race."""
    digest = hashlib.sha256(data).hexdigest()
    values = {"sha256": digest, "size": len(data), "data": data}
    dialect = db.get_bind().dialect.name
    if dialect == "postgresql":
        stmt = pg_insert(Blob).values(**values).on_conflict_do_nothing(index_elements=["sha256"])
    elif dialect == "sqlite":
        stmt = sqlite_insert(Blob).values(**values).on_conflict_do_nothing(index_elements=["sha256"])
    else:  # pragma: no cover - other databases are not supported
        if db.get(Blob, digest) is None:
            db.add(Blob(**values))
            db.flush()
        return digest
    db.execute(stmt)
    return digest


def get_blob(db: Session, digest: str) -> bytes:
    data = db.scalar(select(Blob.data).where(Blob.sha256 == digest))
    if data is None:
        raise NotFound(N_("A stored file is missing; ask the administrator to check the database."))
    return data


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
    try:
        nb = nbformat.reads(content.decode("utf-8"), as_version=4)
        nbformat.validate(nb)
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
