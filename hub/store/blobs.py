"""Content-addressed file storage in the database: a file is stored once, by its sha256."""

from __future__ import annotations

import hashlib

from sqlalchemy import Integer, literal_column, select, union_all
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from sabaq.errors import NotFound
from sabaq.hub.store.models import Blob
from sabaq.i18n import N_


def put_blob(db: Session, data: bytes) -> str:
    """Store content once; return its sha256. Safe when two writers race."""
    return put_blobs(db, [data])[0]


def put_blobs(db: Session, contents: list[bytes]) -> list[str]:
    """Store each content once, in one statement for all; their sha256s, in order. Safe when two writers race."""
    digests = [hashlib.sha256(data).hexdigest() for data in contents]
    rows = list({d: {"sha256": d, "size": len(data), "data": data} for d, data in zip(digests, contents)}.values())
    if not rows:
        return digests
    dialect = db.get_bind().dialect.name
    if dialect == "postgresql":
        stmt = pg_insert(Blob).values(rows).on_conflict_do_nothing(index_elements=["sha256"])
    elif dialect == "sqlite":
        stmt = sqlite_insert(Blob).values(rows).on_conflict_do_nothing(index_elements=["sha256"])
    else:  # pragma: no cover - other databases are not supported
        for values in rows:
            if db.get(Blob, values["sha256"]) is None:
                db.add(Blob(**values))
        db.flush()
        return digests
    db.execute(stmt)
    return digests


def get_blob(db: Session, digest: str) -> bytes:
    return get_blobs(db, [digest])[digest]


IN_LIST = 500  # digests asked for in one statement (far below any database's limit on parameters)


def get_blobs(db: Session, digests) -> dict[str, bytes]:
    """Several stored files: {sha256: content}, in one query per IN_LIST of them, not one each
    (a worker's bundle holds a submission's and its assignment's files)."""
    wanted = sorted(set(digests))
    found: dict[str, bytes] = {}
    for i in range(0, len(wanted), IN_LIST):
        found.update(db.execute(select(Blob.sha256, Blob.data).where(Blob.sha256.in_(wanted[i:i + IN_LIST]))).all())
    if len(found) < len(wanted):
        raise _missing()
    return found


def _missing() -> NotFound:
    return NotFound(N_("A stored file is missing; ask the administrator to check the database."))


def stored_files(db: Session, rows) -> dict[str, bytes]:
    """{path: content} of file rows (``path`` and ``sha256``: an assignment's, a submission's, a
    lesson's), their contents read together."""
    return stored_file_groups(db, rows)[0]


def stored_file_groups(db: Session, *groups) -> list[dict[str, bytes]]:
    """``stored_files`` of each group of file rows, every content read in one go (a worker's
    bundle: the submission's files and its assignment's)."""
    contents = get_blobs(db, [f.sha256 for rows in groups for f in rows])
    return [{f.path: contents[f.sha256] for f in rows} for rows in groups]


def stored_file_groups_of(db: Session, *queries) -> list[dict[str, bytes]]:
    """``stored_file_groups`` of file rows given as queries (each a ``select`` of a table's
    ``path`` and ``sha256``): the rows and their contents in one statement, no ORM objects (a
    worker's bundle, twice for each submission of a deadline, read them as entities first).
    Each group is ordered by path."""
    parts = [query.add_columns(literal_column(str(i), Integer).label("file_group")) for i, query in enumerate(queries)]
    files = (parts[0] if len(parts) == 1 else union_all(*parts)).subquery()
    rows = db.execute(
        select(files.c.file_group, files.c.path, Blob.data)
        .select_from(files).outerjoin(Blob, Blob.sha256 == files.c.sha256)
        .order_by(files.c.file_group, files.c.path)
    )
    groups: list[dict[str, bytes]] = [{} for _ in queries]
    for group, path, data in rows:
        if data is None:
            raise _missing()
        groups[group][path] = data
    return groups
