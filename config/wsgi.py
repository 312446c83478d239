"""WSGI entry point (gunicorn)."""

import os

from django.core.wsgi import get_wsgi_application

from apps.core.startup import freeze_loaded_objects

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

application = get_wsgi_application()
freeze_loaded_objects()
