"""The web UI: server-rendered pages over the same service, under ``/``, signed in with an API key.

``site.router`` assembles the pages, the sign-in and the calls the pages' scripts make; ``create_app``
mounts it with the static files and the security headers. The gate opens each request's session
(:mod:`mediasift.api.ui.session`); every write checks its CSRF token (:mod:`mediasift.api.ui.csrf`).
"""
