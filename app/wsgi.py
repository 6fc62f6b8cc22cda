"""gunicorn entry point: `gunicorn -k gevent app.wsgi:app` (gevent patches before this loads)."""

from . import create_app

app = create_app()
