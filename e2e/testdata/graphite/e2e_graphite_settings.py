import os
d = os.environ['E2E_GRAPHITE_DIR']
SECRET_KEY = 'e2e'
STORAGE_DIR = d
WHISPER_DIR = os.path.join(d, 'whisper')
LOG_DIR = os.path.join(d, 'log')
INDEX_FILE = os.path.join(d, 'index')
DATABASES = {'default': {'NAME': os.path.join(d, 'graphite.db'), 'ENGINE': 'django.db.backends.sqlite3'}}
DEFAULT_XFILES_FACTOR = 0
