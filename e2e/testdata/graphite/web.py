# graphite-web from Debian for the differential suite: its own WSGI
# application, as `django-admin runserver` would serve it (a thread per
# request), on 127.0.0.1:PORT with SO_REUSEPORT, so that it can take the
# port the test holds for it. Settings come from the environment
# (GRAPHITE_SETTINGS_MODULE, DJANGO_SETTINGS_MODULE, PYTHONPATH).
# Prints "ready" once it serves.
import socket, sys
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIServer, WSGIRequestHandler, make_server

from django.core.wsgi import get_wsgi_application


class Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True

    def server_bind(self):
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        super().server_bind()


class Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass


srv = make_server('127.0.0.1', int(sys.argv[1]), get_wsgi_application(), server_class=Server, handler_class=Quiet)
print('ready', flush=True)
srv.serve_forever()
