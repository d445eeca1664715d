"""Base of the hand-written screens: Flask-Admin's BaseView bound to the Engine, guarded like every view."""
from flask_admin import BaseView

from . import auth


class EngineView(auth.Guarded, BaseView):
    def __init__(self, engine, **kw):
        self.engine = engine
        super().__init__(**kw)
