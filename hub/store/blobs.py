"""Content-addressed file storage in the database: a file is stored once, by its sha256."""

from __future__ import annotations

import hashlib

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from sabaq.errors import NotFound
from sabaq.hub.store.models import Blob
from sabaq.i18n import N_


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
