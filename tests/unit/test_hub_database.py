"""The hub's SQLite database commits quickly (written ahead, synced at checkpoints): at a
deadline its commits on the hub's one event loop were most of the slowest submissions' time
(issue 19, sabaq.hub.jupyterhub.hubdatabase); sabaq's own database keeps its full sync."""

from __future__ import annotations

from jupyterhub import orm
from sqlalchemy import text
from traitlets.config import Config

from sabaq.hub.jupyterhub.hubconfig import configure
from sabaq.hub.store.database import make_engine
from sabaq.settings import Settings, ensure_secrets


def pragmas(session) -> tuple[str, int]:
    return (session.execute(text("PRAGMA journal_mode")).scalar(),
            session.execute(text("PRAGMA synchronous")).scalar())


def test_the_hubs_database_is_written_ahead_and_synced_at_checkpoints(tmp_path):
    ensure_secrets(tmp_path)
    settings = Settings.load(data_dir=tmp_path, environ={})
    (tmp_path / "hub").mkdir()
    c = Config()
    configure(c, settings)
    hub = orm.new_session_factory(c.JupyterHub.db_url)()  # as JupyterHub opens it
    assert pragmas(hub) == ("wal", 1)
    hub.add(orm.User(name="aliya"))
    hub.commit()
    assert hub.query(orm.User).one().name == "aliya"
    hub.close()

    other = orm.new_session_factory(f"sqlite:///{tmp_path / 'other.sqlite'}")()
    assert pragmas(other) == ("delete", 2)  # SQLite's defaults: another database is left alone
    other.close()
    ours = make_engine(f"sqlite:///{tmp_path / 'sabaq.sqlite'}")
    with ours.connect() as connection:
        assert connection.execute(text("PRAGMA synchronous")).scalar() == 2  # sabaq's own: full
    ours.dispose()
