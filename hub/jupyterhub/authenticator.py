"""Local accounts for the one-machine default: logins checked against sabaq's database.

People, their argon2 password hashes and their roles live in sabaq (rosters
create them), so the hub asks sabaq instead of PAM. The hub's own login page
and cookies are used unchanged.
"""

from __future__ import annotations

import asyncio

from jupyterhub.auth import Authenticator
from traitlets import Unicode, default

from sabaq.hub.domain.accounts import authenticate
from sabaq.hub.store.database import make_engine, make_sessionmaker, session_scope


class SabaqAuthenticator(Authenticator):
    """Checks a login and password against sabaq's accounts."""

    db_url = Unicode(help="SQLAlchemy URL of sabaq's database.").tag(config=True)

    @default("allow_all")
    def _allow_all_default(self):
        # sabaq's account list is the allow list: only people with a password can log in.
        return True

    _sessions = None

    def _session_factory(self):
        if self._sessions is None:
            self._sessions = make_sessionmaker(make_engine(self.db_url))
        return self._sessions

    def _check(self, username: str, password: str) -> dict | None:
        with session_scope(self._session_factory()) as db:
            user = authenticate(db, username, password)
            if user is None:
                return None
            return {"name": user.name, "admin": True if user.is_admin else None}

    async def authenticate(self, handler, data):
        username = (data or {}).get("username", "")
        password = (data or {}).get("password", "")
        result = await asyncio.to_thread(self._check, username, password)
        if result is None:
            self.log.warning("Failed login for %r", username)
        return result
