"""The config file: defaults for any long option of any subcommand.

``acme --config FILE COMMAND ...``, else ``$ACME_CONFIG``, else ``CONFIG-DIR/config.ini`` when
it exists (the default config dir, see ``acme issue --help``). INI format, one ``[defaults]``
section, keys are long option names without the dashes::

    [defaults]
    directory = https://acme-staging-v02.api.letsencrypt.org/directory
    email = admin@example.com, ops@example.com
    agree-tos = true
    store = postgresql://acme@db.internal/acme
    deploy-hook = systemctl reload nginx

Precedence: the command line, then the environment (``$ACME_DIRECTORY``, ``$ACME_STORE``),
then the file, then the built-in default. A key no subcommand knows is a usage error (exit 2),
so a typo does not pass silently.
"""

from __future__ import annotations

import argparse
import configparser
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from acme.cli._accounts import default_config_dir
from acme.cli._output import CLIError

__all__ = ["apply_config", "config_path"]

_ENVIRONMENT = {"directory": "ACME_DIRECTORY", "store": "ACME_STORE"}
_TRUE, _FALSE = {"1", "yes", "true", "on"}, {"0", "no", "false", "off"}


def config_path(argv: Sequence[str]) -> tuple[Path | None, bool]:
    """The config file to read and whether it was asked for (then it must exist)."""
    for index, arg in enumerate(argv):
        if arg == "--config" and index + 1 < len(argv):
            return Path(argv[index + 1]), True
        if arg.startswith("--config="):
            return Path(arg.split("=", 1)[1]), True
    if os.environ.get("ACME_CONFIG"):
        return Path(os.environ["ACME_CONFIG"]), True
    default = default_config_dir() / "config.ini"
    return (default, False) if default.is_file() else (None, False)


def _parsers(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    """``parser`` and every subcommand parser under it."""
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):
                yield from _parsers(sub)


def _convert(action: argparse.Action, key: str, text: str, path: Path) -> Any:
    if isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction)):
        lowered = text.strip().lower()
        if lowered not in _TRUE | _FALSE:
            raise CLIError(f"{path}: {key} must be true or false, not {text!r}", 2)
        return (lowered in _TRUE) == isinstance(action, argparse._StoreTrueAction)
    convert = action.type if callable(action.type) else str
    try:
        if isinstance(action, argparse._AppendAction):
            return [convert(part.strip()) for part in text.split(",") if part.strip()]
        value = convert(text.strip())
    except (argparse.ArgumentTypeError, ValueError) as error:
        raise CLIError(f"{path}: {key}: {error}", 2) from None
    if action.choices is not None and value not in action.choices:
        raise CLIError(f"{path}: {key} must be one of {', '.join(map(str, action.choices))}", 2)
    return value


def apply_config(parser: argparse.ArgumentParser, path: Path, required: bool) -> None:
    """Make the ``[defaults]`` of ``path`` the defaults of every parser that has the option."""
    config = configparser.ConfigParser(interpolation=None)
    try:
        with open(path, encoding="utf-8") as handle:
            config.read_file(handle)
    except FileNotFoundError:
        if required:
            raise CLIError(f"config file {path} does not exist", 2) from None
        return
    except (OSError, configparser.Error) as error:
        raise CLIError(f"cannot read config file {path}: {error}", 2) from error
    unknown_sections = set(config.sections()) - {"defaults"}
    if unknown_sections:
        raise CLIError(f"{path}: only a [defaults] section is read, not {unknown_sections}", 2)
    if not config.has_section("defaults"):
        return
    settings = dict(config.items("defaults"))
    used: set[str] = set()
    for sub in _parsers(parser):
        for action in sub._actions:
            names = [opt[2:] for opt in action.option_strings if opt.startswith("--")]
            for key in names:
                if key not in settings or key in ("help", "config"):
                    continue
                used.add(key)
                if os.environ.get(_ENVIRONMENT.get(key, "")):
                    continue  # the environment wins over the file
                sub.set_defaults(**{action.dest: _convert(action, key, settings[key], path)})
    unknown = sorted(set(settings) - used)
    if unknown:
        raise CLIError(f"{path}: unknown setting {', '.join(unknown)}", 2)
