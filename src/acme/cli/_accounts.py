"""Saved accounts: one folder per ACME directory URL under the config dir.

Layout (``--config-dir``, default ``$XDG_CONFIG_HOME/acme-python-cli`` or
``~/.config/acme-python-cli``)::

    accounts/<host>-<sha256(directory URL)[:12]>/
        account.key     the account private key, PEM, mode 0600 (folders 0700, each level)
        account.json    {"directory": ..., "uri": ..., "contact": [...]}: no secrets

The key is written before the account is registered, so a crash in between leaves a key that
the next run registers (or finds, RFC 8555 section 7.3.1 ``onlyReturnExisting``) instead of an
account nobody holds the key of. A key rollover stages the new key next to the old one first.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import urllib.parse
from pathlib import Path
from typing import Any

from acme._wire.timestamps import utcnow
from acme.cli._files import (
    PrivateKey,
    load_private_key,
    make_private_dirs,
    private_pem,
    write_file,
)
from acme.cli._output import CLIError

__all__ = ["AccountStore", "StoredAccount", "default_config_dir"]

_KEY_NAME = "account.key"
_JSON_NAME = "account.json"
_STAGED_NAME = "account.key.new"


def default_config_dir() -> Path:
    """``$XDG_CONFIG_HOME/acme-python-cli``, or ``~/.config/acme-python-cli``."""
    base = os.environ.get("XDG_CONFIG_HOME", "")
    root = Path(base) if base and os.path.isabs(base) else Path.home() / ".config"
    return root / "acme-python-cli"


@dataclasses.dataclass
class StoredAccount:
    """A saved account: its folder, key and (once registered) URL."""

    directory_url: str
    folder: Path
    key: PrivateKey
    uri: str | None = None
    contact: tuple[str, ...] = ()

    @property
    def key_path(self) -> Path:
        return self.folder / _KEY_NAME


class AccountStore:
    """Reads and writes `StoredAccount` folders under ``config_dir``."""

    def __init__(self, config_dir: Path) -> None:
        self.config_dir = config_dir

    def folder(self, directory_url: str) -> Path:
        """The folder of the account for ``directory_url`` (readable host, unique hash)."""
        host = urllib.parse.urlsplit(directory_url).netloc or "server"
        label = re.sub(r"[^A-Za-z0-9.-]+", "_", host)[:60]
        digest = hashlib.sha256(directory_url.encode("utf-8")).hexdigest()[:12]
        return self.config_dir / "accounts" / f"{label}-{digest}"

    def load(self, directory_url: str) -> StoredAccount | None:
        """The saved account for ``directory_url``, or None if there is no key yet."""
        folder = self.folder(directory_url)
        key_path = folder / _KEY_NAME
        if not key_path.exists():
            return None
        key = load_private_key(key_path, "account key")
        account = StoredAccount(directory_url, folder, key)
        json_path = folder / _JSON_NAME
        if json_path.exists():
            data = _read_json(json_path)
            uri = data.get("uri")
            account.uri = uri if isinstance(uri, str) and uri else None
            contact = data.get("contact")
            if isinstance(contact, list):
                account.contact = tuple(str(c) for c in contact)
        return account

    def create(self, directory_url: str, key: PrivateKey) -> StoredAccount:
        """Save a new account key (0600, never over an existing one) before registering it."""
        folder = make_private_dirs(self.folder(directory_url))
        write_file(folder / _KEY_NAME, private_pem(key), private=True, what="account key")
        return StoredAccount(directory_url, folder, key)

    def save_registration(
        self, account: StoredAccount, uri: str, contact: tuple[str, ...] = ()
    ) -> None:
        """Record the account URL (and contacts) next to its key."""
        account.uri = uri
        account.contact = tuple(contact)
        data = {
            "directory": account.directory_url,
            "uri": uri,
            "contact": list(contact),
            "saved": utcnow().isoformat(timespec="seconds"),
        }
        text = json.dumps(data, indent=2, sort_keys=True) + "\n"
        write_file(
            account.folder / _JSON_NAME,
            text.encode("utf-8"),
            private=False,
            force=True,
            what="account record",
        )

    def stage_key(self, account: StoredAccount, new_key: PrivateKey) -> Path:
        """Write a rollover's new key beside the current one, before the server switches."""
        staged = account.folder / _STAGED_NAME
        staged.unlink(missing_ok=True)  # a leftover of an interrupted rollover
        write_file(staged, private_pem(new_key), private=True, what="new account key")
        return staged

    def commit_key(self, account: StoredAccount, staged: Path, new_key: PrivateKey) -> None:
        """Make the staged key the account key (one atomic rename)."""
        os.replace(staged, account.key_path)
        account.key = new_key

    def retire(self, account: StoredAccount) -> Path:
        """Move a deactivated account's folder aside, so the next run starts a new account."""
        stamp = utcnow().strftime("%Y%m%dT%H%M%SZ")
        target = account.folder.with_name(f"{account.folder.name}.deactivated-{stamp}")
        os.rename(account.folder, target)
        return target


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as error:
        raise CLIError(f"cannot read account record {path}: {error}") from error
    if not isinstance(data, dict):
        raise CLIError(f"account record {path} is not a JSON object")
    return data
