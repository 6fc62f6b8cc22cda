"""Secrets at rest: Fernet (AES-128-CBC + HMAC-SHA256) with a key from the environment.

Keys come from VIGIL_ENCRYPTION_KEY (one or more Fernet keys separated by commas or new lines),
or VIGIL_ENCRYPTION_KEY_FILE (one per line), or else `encryption_key` in the instance folder,
created on first use. The first key encrypts; every listed key decrypts (MultiFernet), which is
how a key is rotated without a moment when stored secrets cannot be read (see rotate()).

Errors never carry plaintext or ciphertext: a secret that does not decrypt raises SecretError
with a fixed message, and the cause is dropped so no traceback shows the token.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import ConnectionInfo, User

KEY_FILE_NAME = "encryption_key"


class SecretError(Exception):
    """A stored secret cannot be read with the configured keys (wrong or missing key)."""


def parse_keys(text: str) -> list[bytes]:
    keys = [k.strip().encode() for k in re.split(r"[,\s]+", text) if k.strip()]
    for k in keys:
        try:
            Fernet(k)
        except ValueError:
            # Say which position, never the value.
            raise SecretError(f"encryption key #{keys.index(k) + 1} is not a Fernet key "
                              "(32 url-safe base64-encoded bytes)") from None
    if not keys:
        raise SecretError("no encryption key given")
    return keys


def generate_key() -> str:
    return Fernet.generate_key().decode()


def instance_key_file(instance: Path) -> Path:
    """The generated key file; created (0600) on first use. Back it up: without it the stored
    connection info and second factors cannot be read."""
    path = instance / KEY_FILE_NAME
    if not path.exists():
        instance.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # two workers: first wins
            with os.fdopen(fd, "w") as f:
                f.write(generate_key() + "\n")
        except FileExistsError:
            pass
    return path


class Vault:
    """Encrypts and decrypts with the configured keys. One per app, thread-safe."""

    def __init__(self, keys: list[bytes], key_file: Path | None = None) -> None:
        self._lock = threading.Lock()
        self._key_file = key_file
        self._set(keys)

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Vault:
        if config.get("ENCRYPTION_KEY"):
            path = config.get("ENCRYPTION_KEY_FILE")
            return cls(parse_keys(config["ENCRYPTION_KEY"]), Path(path) if path else None)
        path = instance_key_file(Path(config["INSTANCE_PATH"]))
        return cls(parse_keys(path.read_text()), path)

    def _set(self, keys: list[bytes]) -> None:
        self.keys = keys
        self._fernet = MultiFernet([Fernet(k) for k in keys])

    def encrypt(self, payload: dict[str, Any]) -> str:
        return self._fernet.encrypt(json.dumps(payload, separators=(",", ":")).encode()).decode()

    def decrypt(self, token: str) -> dict[str, Any]:
        try:
            raw = self._fernet.decrypt(token.encode())
        except InvalidToken:
            # Another process may have rotated the key file: read it again once.
            if not self._reload():
                raise SecretError("this secret cannot be decrypted with the configured encryption key") from None
            try:
                raw = self._fernet.decrypt(token.encode())
            except InvalidToken:
                raise SecretError("this secret cannot be decrypted with the configured encryption key") from None
        value = json.loads(raw)
        assert isinstance(value, dict)
        return value

    def encrypt_text(self, value: str) -> str:
        return self.encrypt({"v": value})

    def decrypt_text(self, token: str) -> str:
        return str(self.decrypt(token)["v"])

    def _reload(self) -> bool:
        if self._key_file is None or not self._key_file.exists():
            return False
        try:
            keys = parse_keys(self._key_file.read_text())
        except SecretError:
            return False
        with self._lock:
            if keys == self.keys:
                return False
            self._set(keys)
        return True


def encrypted_columns() -> Iterable[Any]:
    """Every column that holds a Fernet token: what rotate() re-encrypts."""
    return (ConnectionInfo.secret, User.totp_secret)


def rotate(session: Session, old: Vault, new_key: bytes) -> int:
    """Re-encrypt every stored secret with `new_key`, reading with the new key or any old one.
    Returns how many values were re-encrypted. Runs in the caller's transaction: all or none."""
    rotator = MultiFernet([Fernet(new_key), *(Fernet(k) for k in old.keys if k != new_key)])
    check = Fernet(new_key)
    count = 0
    for column in encrypted_columns():
        model = column.class_
        rows = session.execute(select(model).where(column.is_not(None)).with_for_update()).scalars()
        for row in rows:
            token = getattr(row, column.key)
            try:
                fresh = rotator.rotate(token.encode())
                check.decrypt(fresh)
            except InvalidToken:
                raise SecretError(f"{model.__tablename__} #{row.id} cannot be decrypted with the current keys; "
                                  "nothing was changed") from None
            setattr(row, column.key, fresh.decode())
            count += 1
    session.flush()
    return count


def vault_for(app: Any) -> Vault:
    """The app's vault, made on first use (so the key file is only created when needed)."""
    found = app.extensions.get("vigil_vault")
    if found is None:
        found = app.extensions["vigil_vault"] = Vault.from_config(app.config)
    return found  # type: ignore[no-any-return]
