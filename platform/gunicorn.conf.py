# gunicorn settings: `gunicorn -c platform/gunicorn.conf.py config.wsgi`
import os

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
timeout = int(os.environ.get("WEB_TIMEOUT", "30"))
accesslog = "-"
# gunicorn's control socket is one path per user by default: two servers would share it.
control_socket_disable = True
