"""gunicorn settings for `make serve`: each value can be changed through the environment.

Threads inside a few processes suit this app: a request is short, mostly CPU, with one or two
queries; keep-alive lets a proxy or a browser reuse its connection. A worker silent for `timeout`
seconds (a stuck PDF render, say) is killed and replaced; workers are also recycled after
`max_requests` to bound any slow growth in memory.
"""

import os

bind = [f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"]
workers = int(os.environ.get("WEB_CONCURRENCY", str(max(2, (os.cpu_count() or 1) * 2))))
worker_class = "gthread"
threads = int(os.environ.get("WEB_THREADS", "4"))
timeout = int(os.environ.get("WEB_TIMEOUT", "60"))
graceful_timeout = 20
keepalive = 5
# Recycling bounds slow growth in memory; each restart costs a worker its warm knowledge base, so rarely.
max_requests = 50000
max_requests_jitter = 5000
# Import the app (views, WeasyPrint) once in the master: a new or recycled worker is ready at once.
preload_app = True
# The TLS proxy in front, on this host by default; set FORWARDED_ALLOW_IPS to its address otherwise.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
accesslog = os.environ.get("ACCESS_LOG", "-")
# Client, time, request, status, bytes and the time taken in milliseconds.
access_log_format = '%(h)s %(t)s "%(r)s" %(s)s %(B)s %(M)sms'
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "INFO").lower()
control_socket_disable = True  # one server per port; several may share a host


def post_fork(server, worker):
    """Build the knowledge base in each new worker before it takes requests, so no user waits for it.

    After the fork, not before: database connections and pools must not cross a fork. A database that
    is down only postpones the build to the first request (and /readyz says so meanwhile).
    """
    from django.db import connections

    from advisor import knowledge

    try:
        knowledge.state()
    except Exception as error:
        server.log.warning("Knowledge base not built at worker start: %s", error)
    finally:
        connections.close_all()
