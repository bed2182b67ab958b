"""Local accounts: login names, argon2 password hashes, creating people."""

from __future__ import annotations

import re
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from sabaq.errors import Conflict, Invalid, NotFound
from sabaq.hub.store.models import Guardian, User
from sabaq.i18n import N_

LOGIN_RE = re.compile(r"^[a-z][a-z0-9._-]{0,29}$")
_hasher = PasswordHasher()

# Kazakh and Russian Cyrillic to Latin, for logins made from full names.
# Follows the 2021 Kazakh Latin alphabet where letters are Kazakh-specific,
# written with plain ASCII so logins are easy to type.
_TRANSLIT = {
    "а": "a", "ә": "a", "б": "b", "в": "v", "г": "g", "ғ": "g", "д": "d",
    "е": "e", "ё": "e", "ж": "zh", "з": "z", "и": "i", "й": "i", "к": "k",
    "қ": "q", "л": "l", "м": "m", "н": "n", "ң": "n", "о": "o", "ө": "o",
    "п": "p", "р": "r", "с": "s", "т": "t", "у": "u", "ұ": "u", "ү": "u",
    "ф": "f", "х": "kh", "һ": "h", "ц": "ts", "ч": "ch", "ш": "sh",
    "щ": "sch", "ъ": "", "ы": "y", "і": "i", "ь": "", "э": "e", "ю": "yu",
    "я": "ya",
}


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    if not password_hash:
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def new_password() -> str:
    """A password a pupil can type: three groups of four lowercase letters and digits."""
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    groups = ["".join(secrets.choice(alphabet) for _ in range(4)) for _ in range(3)]
    return "-".join(groups)


def transliterate(text: str) -> str:
    out = []
    for ch in text.lower():
        out.append(_TRANSLIT.get(ch, ch))
    return "".join(out)


def login_from_name(full_name: str) -> str:
    """'Әлия Нұрланқызы' -> 'aliya.nurlanqyzy' (family name first is kept as given)."""
    words = re.findall(r"[a-z0-9]+", transliterate(full_name))
    login = ".".join(words)[:30].strip(".")
    if login and not login[0].isalpha():
        login = "u" + login[:29]
    return login


def check_login(login: str) -> str:
    if not LOGIN_RE.match(login or ""):
        raise Invalid(
            N_(
                "Login '{login}' is not allowed: use 1 to 30 lowercase Latin letters, "
                "digits, dots, dashes or underscores, starting with a letter."
            ),
            login=login,
        )
    return login


def check_password(password: str, min_length: int) -> str:
    if len(password or "") < min_length:
        raise Invalid(
            N_("The password is too short: use at least {n} characters."), n=min_length
        )
    return password


def get_user(db: Session, name: str) -> User:
    user = db.scalar(select(User).where(User.name == name))
    if user is None:
        raise NotFound(N_("There is no user '{name}'."), name=name)
    return user


def find_user(db: Session, name: str) -> User | None:
    return db.scalar(select(User).where(User.name == name))


def only_a_parent(db: Session, user: User) -> bool:
    """A guardian who is in no course and no administrator: such an account only reads a
    child's work on sabaq's pages, and gets no JupyterLab (no terminal, no kernel)."""
    if user.is_admin or user.memberships:
        return False
    return db.scalar(select(Guardian.id).where(Guardian.parent_id == user.id).limit(1)) is not None


def create_user(
    db: Session,
    name: str,
    *,
    full_name: str = "",
    password: str | None = None,
    is_admin: bool = False,
    language: str | None = None,
    email: str = "",
) -> User:
    check_login(name)
    if find_user(db, name) is not None:
        raise Conflict(N_("The login '{name}' is already taken."), name=name)
    user = User(
        name=name,
        full_name=full_name,
        email=email,
        is_admin=is_admin,
        language=language,
        password_hash=hash_password(password) if password else None,
    )
    db.add(user)
    db.flush()
    return user


def authenticate(db: Session, name: str, password: str) -> User | None:
    """The user if the password is right, else None (same cost either way)."""
    user = find_user(db, (name or "").strip().lower())
    if user is None:
        _hasher.hash(password or "x")  # keep timing similar for unknown logins
        return None
    if not verify_password(user.password_hash, password or ""):
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user
