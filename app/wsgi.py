"""gunicorn entry point: `gunicorn -k gevent app.wsgi:app` (gevent patches before this loads)."""

from . import create_app
from .heap import settle_heap

app = create_app()
settle_heap()
