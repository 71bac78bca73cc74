"""The public blueprint the views of this package register on."""

from flask import Blueprint

bp = Blueprint("public", __name__)
