"""runserver (with static files, as django.contrib.staticfiles serves them) that accepts a burst
of shoppers: Django's server queues 10 connections, and the kernel resets those beyond while the
accept loop is busy, so 30 simultaneous requests to scripts/run lost a few before any view ran."""

from django.contrib.staticfiles.management.commands.runserver import Command as StaticFilesRunserverCommand
from django.core.servers.basehttp import WSGIServer


class BurstTolerantWSGIServer(WSGIServer):
    request_queue_size = 128


class Command(StaticFilesRunserverCommand):
    server_cls = BurstTolerantWSGIServer
