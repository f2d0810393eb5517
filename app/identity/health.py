"""``/healthz`` for probes: the process and its database answer."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse

log = logging.getLogger(__name__)


class HealthCheckMiddleware:
    """``GET /healthz``: 200 while the process and its database answer, 503 when the database does not.

    Answered before any other middleware, so a probe by IP address (a container healthcheck, a
    load balancer) is not refused by ALLOWED_HOSTS nor redirected to HTTPS.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path != "/healthz" or request.method not in ("GET", "HEAD"):
            return self.get_response(request)
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
        except DatabaseError as error:
            log.error("health check: database unavailable: %s", error)
            response: HttpResponse = JsonResponse({"status": "unavailable", "database": "down"}, status=503)
        else:
            response = JsonResponse({"status": "ok", "database": "ok"})
        response["Cache-Control"] = "no-store"
        return response
