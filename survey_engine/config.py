"""Settings from the environment; nothing else reads os.environ."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Config:
    """Defaults for the embedded mode: SQLite under instance/, submissions stored inline."""

    def __init__(self, instance_path: str) -> None:
        self.SQLALCHEMY_DATABASE_URI = os.environ.get(
            "DATABASE_URL", "sqlite:///" + str(Path(instance_path) / "survey-engine.sqlite3")
        )
        # A random key still works for the public form (it keeps no session);
        # set SECRET_KEY in production so staff sessions survive restarts.
        self.SECRET_KEY = os.environ.get("SECRET_KEY") or secrets.token_hex(32)
        # A whole questionnaire's answers fit in a few KB; 256 KB leaves room
        # for long comments and refuses anything abusive with 413.
        self.MAX_CONTENT_LENGTH = int(os.environ.get("MAX_CONTENT_LENGTH", 256 * 1024))
        self.MAX_FORM_MEMORY_SIZE = self.MAX_CONTENT_LENGTH
        self.SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
        self.EXPORT_DIR = os.environ.get("EXPORT_DIR", str(Path(instance_path) / "exports"))
