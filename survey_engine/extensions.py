"""Extension objects, created unbound so any module can import them."""

from flask_babel import Babel
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect

db = SQLAlchemy()
migrate = Migrate()
babel = Babel()
login_manager = LoginManager()
csrf = CSRFProtect()
# The login rate limiter is made per app (survey_engine.admin.init_app): its counters
# live on the Limiter object, and two apps in one process (tests) must not share them.
