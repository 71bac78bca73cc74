"""The admin blueprint the views of this package register on."""

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")
