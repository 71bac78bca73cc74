"""The api blueprint the views of this package register on."""

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")
