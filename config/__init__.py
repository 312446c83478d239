"""Project configuration: settings, URLs, the WSGI/ASGI entry points and the Celery app."""
