# graphite-web from Debian for the end-to-end tests: whisper files with
# known points under $E2E_GRAPHITE_DIR, then graphite-web's own WSGI
# application on 127.0.0.1:PORT (0: any free port). Prints "ready PORT"
# once it serves.
import os, sys, time

import whisper

d = os.environ['E2E_GRAPHITE_DIR']
os.makedirs(os.path.join(d, 'log'), exist_ok=True)
p = os.path.join(d, 'whisper', 'e2e', 'ext', 'value.wsp')
os.makedirs(os.path.dirname(p), exist_ok=True)
whisper.create(p, [(10, 360)])
now = int(time.time())
# 1, 1, 1, 5, 1, 1: the maximum is 5 once, in the middle.
whisper.update_many(p, [(now - 60 + 10 * i, 5.0 if i == 3 else 1.0) for i in range(6)])

sys.path.insert(0, '/usr/share/graphite-web')
os.environ['GRAPHITE_SETTINGS_MODULE'] = 'e2e_graphite_settings'
os.environ['DJANGO_SETTINGS_MODULE'] = 'graphite.settings'
from wsgiref.simple_server import make_server, WSGIRequestHandler
from django.core.wsgi import get_wsgi_application

app = get_wsgi_application()


class Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass


srv = make_server('127.0.0.1', int(sys.argv[1]), app, handler_class=Quiet)
print('ready', srv.server_port, flush=True)
srv.serve_forever()
