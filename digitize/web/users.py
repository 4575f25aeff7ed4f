"""Users of the web application: a JSON file beside the index (ARCHIVE/users.json).

    {"users": [{"name": "wangfang", "display": "王芳", "role": "inspector", "clearance": "内部",
                "password": "$argon2id$v=19$m=65536,t=3,p=4$…", "created": "…", "updated": "…"}]}

Roles: ``reader`` searches and opens documents up to their clearance; ``inspector`` also
reviews the QC sample and records decisions; ``admin`` also reads the usage register
(利用登记). Every user has a clearance (`digitize.search.access`).

Passwords are hashed with Argon2id (argon2-cffi, the PHC winner and OWASP's first choice;
its default cost: 64 MiB, 3 passes); only the hash is stored. The file is written atomically
with mode 0600, so a half-written file or other local users never see it.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from digitize.errors import BadInput
from digitize.fsutil import atomic_write_bytes
from digitize.journal import now_iso
from digitize.search.access import LEVELS, clearance_rank

USERS_FILE = "users.json"
ROLES = ("reader", "inspector", "admin")
ROLE_LABELS = {"reader": "查阅者", "inspector": "质检员", "admin": "管理员"}
MIN_PASSWORD = 8
_NAME = re.compile(r"^[A-Za-z0-9_.\-\u4e00-\u9fff]{1,64}$")
_HASHER = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """A hash of a password nobody has: sign-in for an unknown name costs as much as for a known one."""
    return _HASHER.hash(os.urandom(16).hex())


class UserError(BadInput):
    """A user that cannot be added or changed as asked (the message says why)."""


@dataclass(frozen=True)
class User:
    name: str
    role: str
    clearance: str
    password: str  # Argon2id hash
    display: str = ""
    created: str = ""
    updated: str = ""

    @property
    def clearance_rank(self) -> int:
        return clearance_rank(self.clearance)

    @property
    def label(self) -> str:
        return self.display or self.name

    def can(self, role: str) -> bool:
        """Whether this user has at least the rights of `role` (reader < inspector < admin)."""
        return ROLES.index(self.role) >= ROLES.index(role)

    @property
    def session_stamp(self) -> str:
        """Changes when the password, role or clearance changes: older sessions stop working."""
        return hashlib.sha256(f"{self.password}|{self.role}|{self.clearance}".encode()).hexdigest()[:24]


class UserStore:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._cache: tuple[float, dict[str, User]] | None = None

    def users(self) -> dict[str, User]:
        """All users, read again only when the file changed."""
        try:
            mtime = self.path.stat().st_mtime
        except FileNotFoundError:
            return {}
        if self._cache is None or self._cache[0] != mtime:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            self._cache = (mtime, {u["name"]: User(**u) for u in data.get("users", [])})
        return self._cache[1]

    def get(self, name: str) -> User | None:
        return self.users().get(name)

    def _save(self, users: dict[str, User]) -> None:
        data = {"users": [asdict(u) for u in sorted(users.values(), key=lambda u: u.name)]}
        atomic_write_bytes(self.path, json.dumps(data, ensure_ascii=False, indent=1).encode("utf-8"))
        os.chmod(self.path, 0o600)
        self._cache = None

    def add(self, name: str, password: str, role: str, clearance: str, display: str = "") -> User:
        if not _NAME.match(name):
            raise UserError(f"user name {name!r}: use 1–64 letters, digits, Chinese characters, '.', '_' or '-'")
        if name in self.users():
            raise UserError(f"user {name!r} exists already")
        user = User(name, *_checked(role, clearance), _hash(password), display.strip(), now_iso(), now_iso())
        self._save({**self.users(), name: user})
        return user

    def change(
        self,
        name: str,
        password: str | None = None,
        role: str | None = None,
        clearance: str | None = None,
        display: str | None = None,
    ) -> User:
        old = self.get(name)
        if old is None:
            raise UserError(f"no user {name!r}")
        new_role, new_clearance = _checked(role or old.role, clearance or old.clearance)
        user = User(
            name,
            new_role,
            new_clearance,
            _hash(password) if password is not None else old.password,
            old.display if display is None else display.strip(),
            old.created,
            now_iso(),
        )
        self._save({**self.users(), name: user})
        return user

    def remove(self, name: str) -> None:
        users = dict(self.users())
        if users.pop(name, None) is None:
            raise UserError(f"no user {name!r}")
        self._save(users)

    def authenticate(self, name: str, password: str) -> User | None:
        """The user when name and password match, else None (the same work either way)."""
        user = self.get(name)
        try:
            _HASHER.verify(user.password if user else _dummy_hash(), password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return None
        return user


def _checked(role: str, clearance: str) -> tuple[str, str]:
    if role not in ROLES:
        raise UserError(f"role {role!r} is not one of {', '.join(ROLES)}")
    try:
        clearance_rank(clearance)
    except ValueError:
        raise UserError(f"clearance {clearance!r} is not one of {', '.join(LEVELS)}") from None
    return role, clearance


def _hash(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise UserError(f"the password needs at least {MIN_PASSWORD} characters")
    return _HASHER.hash(password)
