"""Masking credentials before a value reaches MLflow or a log line.

Two kinds of secret are recognised: the userinfo of a URL
(``postgresql://alice:S3cret@host/db`` becomes ``postgresql://***@host/db``) and the
value of any setting whose name says it is a password, token, secret, key or
credential. Credentials belong in environment variables, ``~/.pgpass`` or Kedro's
``conf/local/credentials.yml``, none of which is logged (docs/reliability.md).
"""

from __future__ import annotations

import re
from typing import Any

MASK = "***"
SECRET_NAME = re.compile(
    r"passw(or)?d|pwd|(^|_)pass$|token|secret|(api|access|private)_?key|credential",
    re.IGNORECASE,
)
# Userinfo runs to the last "@" of the URL: a password may hold "/", "#" or "?", as
# SQLAlchemy accepts. Masking a path that holds an "@" too is the safe mistake.
URL_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)[^\s'\"]*@")


def mask_text(text: str) -> str:
    """``text`` with the userinfo of every URL in it replaced by ``***``."""
    return URL_USERINFO.sub(rf"\g<scheme>{MASK}@", text)


def is_secret_name(name: str) -> bool:
    """Whether the last part of a (dotted) setting name says it holds a secret."""
    return bool(SECRET_NAME.search(str(name).rsplit(".", 1)[-1]))


def mask_secrets(value: Any, name: str = "") -> Any:
    """``value`` with secrets masked, through dicts, lists and tuples; other values as
    they are. A secret-named setting is masked whole, unless it is empty."""
    if is_secret_name(name) and value not in (None, ""):
        return MASK
    if isinstance(value, dict):
        return {key: mask_secrets(item, str(key)) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(mask_secrets(item, name) for item in value)
    if isinstance(value, str):
        return mask_text(value)
    return value
