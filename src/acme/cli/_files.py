"""Key and certificate files: generated keys, atomic writes that never overwrite silently.

Rules:
- A file is written to a temporary name in the target's folder (created ``O_EXCL``, mode 0600
  for private keys), flushed to disk, then moved into place in one step: ``os.link`` when the
  target must not exist (fails if it does, so a concurrent writer is never clobbered either),
  ``os.replace`` only with ``force``. Readers never see a half-written key.
- Private keys are PKCS#8 PEM without encryption, mode 0600; their bytes are never printed or
  logged.
- Folders this program creates for its own state (accounts, rescued certificates) are 0700,
  every missing level of them, whatever the umask (`make_private_dirs`).
- An issued certificate is never dropped: if it cannot be installed, `rescue_pair` keeps it
  and its key in the state folder (or a private temporary folder) and says where.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import tempfile
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from acme._wire.timestamps import utcnow
from acme.cli._output import CLIError

__all__ = [
    "KEY_TYPES",
    "PrivateKey",
    "check_can_write",
    "describe_key",
    "generate_key",
    "load_certificate",
    "load_private_key",
    "make_private_dirs",
    "private_pem",
    "rescue_pair",
    "write_file",
]

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey

#: ``--key-type`` choices. ECDSA P-256 is the default: small, fast and accepted by every CA.
KEY_TYPES = ("ec256", "ec384", "rsa2048", "rsa3072", "rsa4096")

_CURVE_NAMES = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}
PRIVATE_MODE = 0o600
PUBLIC_MODE = 0o644
PRIVATE_DIR_MODE = 0o700


def generate_key(key_type: str) -> PrivateKey:
    """A fresh private key of one of `KEY_TYPES`."""
    if key_type == "ec256":
        return ec.generate_private_key(ec.SECP256R1())
    if key_type == "ec384":
        return ec.generate_private_key(ec.SECP384R1())
    if key_type.startswith("rsa") and key_type in KEY_TYPES:
        return rsa.generate_private_key(65537, int(key_type[3:]))
    raise CLIError(f"unknown key type {key_type!r} (choose from {', '.join(KEY_TYPES)})", 2)


def private_pem(key: PrivateKey) -> bytes:
    """PKCS#8 PEM of ``key``, unencrypted (the file mode protects it)."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def load_private_key(path: Path, what: str = "private key") -> PrivateKey:
    """Read an RSA or EC private key (PEM, unencrypted) from ``path``."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise CLIError(f"cannot read {what} {path}: {error.strerror or error}") from error
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as error:
        # ValueError/TypeError are what cryptography raises for bad PEM or a passphrase.
        raise CLIError(f"{path} is not an unencrypted PEM {what}") from error
    if not isinstance(key, (ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey)):
        raise CLIError(f"{path}: only RSA and ECDSA {what}s are supported")
    return key


def load_certificate(path: Path) -> x509.Certificate:
    """The first certificate of a PEM file (a leaf or a full chain whose first is the leaf)."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise CLIError(f"cannot read certificate {path}: {error.strerror or error}") from error
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError as error:
        raise CLIError(f"{path} holds no PEM certificate") from error
    return certs[0]


def check_can_write(path: Path, *, force: bool, what: str) -> None:
    """Fail early (before any CA work) if ``path`` exists without ``force`` or has no folder."""
    if path.exists() or path.is_symlink():
        if not force:
            raise CLIError(f"refusing to overwrite existing {what} {path} (use --force)")
        if path.is_dir():
            raise CLIError(f"{what} path {path} is a directory")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise CLIError(f"folder {parent} for the {what} does not exist")


def write_file(path: Path, data: bytes, *, private: bool, force: bool = False, what: str) -> None:
    """Write ``data`` to ``path`` atomically; refuse to replace an existing file unless ``force``.

    ``private`` files get mode 0600 from the moment they exist (``O_EXCL`` creation with that
    mode, so the umask can only narrow it).
    """
    mode = PRIVATE_MODE if private else PUBLIC_MODE
    parent = path.parent if str(path.parent) else Path(".")
    tmp = parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if force:
            os.replace(tmp, path)
        else:
            _link_new(tmp, path, data, mode, what)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def _link_new(tmp: Path, path: Path, data: bytes, mode: int, what: str) -> None:
    """Put ``tmp`` at ``path`` only if nothing is there (hard link, else ``O_EXCL`` create)."""
    try:
        os.link(tmp, path)
        return
    except FileExistsError:
        raise CLIError(f"refusing to overwrite existing {what} {path} (use --force)") from None
    except OSError as error:
        if error.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
            raise
    # File systems without hard links: exclusive creation still never overwrites.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        raise CLIError(f"refusing to overwrite existing {what} {path} (use --force)") from None
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def make_private_dirs(folder: Path) -> Path:
    """Create ``folder`` and every missing parent with mode 0700 (``mkdir -p`` gives the
    parents the umask's mode, 0777 under umask 000); existing folders are left alone."""
    missing = []
    probe = folder
    while not probe.is_dir():
        missing.append(probe)
        if probe.parent == probe:
            break
        probe = probe.parent
    for path in reversed(missing):
        with contextlib.suppress(FileExistsError):
            path.mkdir(PRIVATE_DIR_MODE)
            os.chmod(path, PRIVATE_DIR_MODE)  # mkdir's mode is narrowed by the umask only
    return folder


def rescue_pair(state_dir: Path, label: str, key_pem: bytes, chain_pem: bytes) -> Path:
    """Save an issued pair that could not be installed; return the folder it is in.

    ``state_dir/rescued/<UTC time>-<label>/`` (0700 folders, key 0600), else a fresh private
    temporary folder. Raises ``OSError`` only if neither can be written.
    """
    stamp = utcnow().strftime("%Y%m%dT%H%M%SZ")
    name = f"{stamp}-{re.sub(r'[^A-Za-z0-9.-]+', '_', label)[:60]}-{secrets.token_hex(3)}"
    try:
        return _save_pair(make_private_dirs(state_dir / "rescued" / name), key_pem, chain_pem)
    except OSError:  # the state folder is broken too: a private temporary folder, 0700
        return _save_pair(
            Path(tempfile.mkdtemp(prefix=f"acme-rescued-{name}-")), key_pem, chain_pem
        )


def _save_pair(folder: Path, key_pem: bytes, chain_pem: bytes) -> Path:
    write_file(folder / "privkey.pem", key_pem, private=True, what="rescued key")
    write_file(folder / "fullchain.pem", chain_pem, private=False, what="rescued chain")
    return folder


def describe_key(key: Any) -> str:
    """``"ECDSA P-256"``, ``"RSA 2048"``: the key's kind, never its bytes."""
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return f"ECDSA {_CURVE_NAMES.get(key.curve.name, key.curve.name)}"
    if isinstance(key, rsa.RSAPrivateKey):
        return f"RSA {key.key_size}"
    return type(key).__name__
