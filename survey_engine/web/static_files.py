"""Static files with their content hash in the URL, cached by phones for a year.

Over 3G every revalidation of the CSS and scripts costs a round trip; with the
hash in the URL a new release is fetched at once and an unchanged file never.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from flask import Flask, url_for

ONE_YEAR = 365 * 24 * 3600


def init_app(app: Flask) -> None:
    if app.static_folder is None:  # create_app always gives it one
        raise RuntimeError("the app has no static folder")
    folder = Path(app.static_folder)
    versions = {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()[:10]
        for path in folder.iterdir()
        if path.is_file()
    }

    def static_url(filename: str) -> str:
        return url_for("static", filename=filename, v=versions.get(filename))

    app.jinja_env.globals["static_url"] = static_url
    if app.config.get("SEND_FILE_MAX_AGE_DEFAULT") is None:  # Flask's default: no-cache
        app.config["SEND_FILE_MAX_AGE_DEFAULT"] = ONE_YEAR
