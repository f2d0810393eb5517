"""Settings for every environment, read from environment variables (see README: Configuration).

The safe value is the default: DEBUG is off, there is no default secret key, and the directory
must be named. ``deploy/env/local.env`` holds the values for the local demo directory.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from identity.directory_settings import DirectorySettings, settings_for_django

from config.env import env_bool, env_int, env_list, env_secret, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
REPO_DIR = BASE_DIR.parent

DEBUG = env_bool("DJANGO_DEBUG", False)
# Outside development there is no default key: a deployment must bring its own.
SECRET_KEY = env_secret("DJANGO_SECRET_KEY", "django-insecure-development-only" if DEBUG else None)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "identity",
    "axes",
    "csp",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
]

MIDDLEWARE = [
    # First: answers /healthz before host validation and HTTPS redirects, for probes by address.
    "identity.health.HealthCheckMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Signed-in pages: Cache-Control: private, no-store.
    "identity.no_store.SignedInNoStoreMiddleware",
    "identity.revalidation.DirectoryRevalidationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # django-csp's, its headers built once (identity.content_security_policy).
    "identity.content_security_policy.ContentSecurityPolicyMiddleware",
    # Last, as django-axes requires: turns a lockout into identity.lockout's response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env_secret("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"), conn_max_age=60, conn_health_checks=True
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several gunicorn workers write sessions and users at once: WAL lets readers go on while one
    # writes, IMMEDIATE takes the write lock at BEGIN (so no deadlock-prone lock upgrade), and
    # the timeout makes a writer wait its turn instead of failing with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# Database connections are kept between requests (CONN_MAX_AGE from DATABASE_URL: 60 s), one per
# gunicorn thread, SQLite's too: opening the file and running the PRAGMAs at every request made a
# sign-in POST 1.7x as costly (bench/profile_signin.py).

# A sign-in writes its session once (identity.sessions), in Django's own table.
SESSION_ENGINE = "identity.sessions"

# --- Shared cache for several replicas ----------------------------------------------------------
# REDIS_URL (or REDIS_URL_FILE), e.g. redis://redis:6379/0: one cache for every replica, so
# django-auth-ldap's cached DNs and group names (and anything else cached) are the same whichever
# replica answers. Unset: Django's default per-process memory cache, as on one machine.
# Sessions stay in the database either way (not cached_db): a session read is one primary-key
# SELECT, a revoked session is gone for every replica at once, and losing Redis (a restart, an
# eviction) signs nobody out.
_redis_url = env_secret("REDIS_URL", "")
if _redis_url:
    if not _redis_url.startswith(("redis://", "rediss://", "unix://")):
        raise ImproperlyConfigured("REDIS_URL must start with redis://, rediss:// or unix://.")
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": _redis_url,
            "KEY_PREFIX": "jumpcloud-django",
            # seconds; a Redis that stops answering fails a request in about this long, not a worker timeout
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
    }
# --- end of the shared cache --------------------------------------------------------------------

# A locked-out attempt is refused before the directory is asked; then the directory; then
# Django's own accounts (a break-glass admin made with createsuperuser, for when it is down).
AUTHENTICATION_BACKENDS = [
    "identity.lockout.SignInLockoutBackend",
    "identity.backends.JumpCloudLDAPBackend",
    "identity.backends.LocalAccountBackend",
]
# The directory settings, read once (identity.directory_settings): LDAP_DIRECTORY and the
# AUTH_LDAP_* values django-auth-ldap reads.
globals().update(settings_for_django(DirectorySettings.from_environment()))
# After the directory is found unreachable, its calls fail at once for this long (identity.breaker).
LDAP_BREAKER_SECONDS = env_int("LDAP_BREAKER_SECONDS", 5)
# Directory calls at once per process: one less than gunicorn's threads, so a frozen directory
# always leaves a thread for the pages that do not need it (identity.breaker).
LDAP_CALLS_PER_PROCESS = max(1, env_int("GUNICORN_THREADS", 4, minimum=1) - 1)
# How long a page due for its session check waits for the directory's answer before going on
# without it (identity.beside_the_page).
LDAP_REVALIDATE_WAIT_SECONDS = 0.25
# How often (seconds, per session) a signed-in directory user is checked against the directory.
LDAP_REVALIDATE_SECONDS = env_int("LDAP_REVALIDATE_SECONDS", 300)
# ldap_sync refuses to deactivate more than this share of the directory users at once.
LDAP_SYNC_MAX_DEACTIVATE_PERCENT = env_int("LDAP_SYNC_MAX_DEACTIVATE_PERCENT", 10)

# Django's own accounts (a break-glass admin) may sign in; off: only directory users can.
AUTH_LOCAL_ACCOUNTS = env_bool("AUTH_LOCAL_ACCOUNTS", True)

# "Remember me": unticked, the session ends when the browser closes; ticked, it lasts this long.
SESSION_REMEMBER_DAYS = env_int("SESSION_REMEMBER_DAYS", 14, minimum=1)
SESSION_COOKIE_AGE = SESSION_REMEMBER_DAYS * 24 * 3600

# Brute force: lock a username + client address pair after repeated failures (django-axes).
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# Every spelling of one username (letter case, Unicode form) shares one counter.
AXES_USERNAME_CALLABLE = "identity.accounts.lockout_username"
# And per username from all addresses together, below JumpCloud's own lockout (identity.throttle).
LDAP_MAX_FAILURES_PER_USER = env_int("LDAP_MAX_FAILURES_PER_USER", 3, minimum=1)
AXES_RESET_ON_SUCCESS = True
# The cool-off runs from the failure that caused the lock: an attempt made while locked is refused
# without restarting it, so nobody can keep a named person locked by trying every few minutes.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_HANDLER = "identity.lockout.DirectoryAwareAxesHandler"
AXES_LOCKOUT_CALLABLE = "identity.lockout.locked_out_response"
AXES_VERBOSE = False
# Behind proxies (a TLS-terminating one, a load balancer), the client is the address the outermost
# of them was reached from, believed only from a peer in DJANGO_TRUSTED_PROXIES (identity.proxy).
PROXY_COUNT = env_int("DJANGO_PROXY_COUNT", 0)
TRUSTED_PROXIES = env_list("DJANGO_TRUSTED_PROXIES", ["127.0.0.1", "::1"])
if PROXY_COUNT and not TRUSTED_PROXIES:
    raise ImproperlyConfigured("DJANGO_PROXY_COUNT is set: set DJANGO_TRUSTED_PROXIES to the proxies' addresses.")
AXES_CLIENT_IP_CALLABLE = "identity.proxy.client_ip"
# Successful sign-ins are in the audit log (identity.audit), so no AccessLog row is written for each.
AXES_DISABLE_ACCESS_LOG = True

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# collectstatic writes here (the image does it at build time); without it, as in the native
# stack, WhiteNoise serves the files straight from the apps.
STATIC_ROOT = env_str("DJANGO_STATIC_ROOT", "") or None
WHITENOISE_USE_FINDERS = True

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

# Served over TLS (directly or behind a proxy): secure cookies, HTTPS redirects and HSTS.
HTTPS = env_bool("DJANGO_HTTPS", False)
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_SSL_REDIRECT = HTTPS
SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 31_536_000 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("DJANGO_HSTS_PRELOAD", False)
# A TLS-terminating proxy's header, as "HEADER,value": HTTP_X_FORWARDED_PROTO,https
_proxy_header = env_list("DJANGO_SECURE_PROXY_SSL_HEADER", [])
SECURE_PROXY_SSL_HEADER = (_proxy_header[0], _proxy_header[1]) if len(_proxy_header) == 2 else None

# Content-Security-Policy: nothing from elsewhere, no inline scripts or styles.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
        "base-uri": [NONE],
        "object-src": [NONE],
    }
}

LOG_FORMAT = env_str("LOG_FORMAT", "plain")
if LOG_FORMAT not in ("plain", "json"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be plain or json, not {LOG_FORMAT!r}.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
        "json": {"()": "identity.logging.JsonFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        # identity.audit says what django-auth-ldap and django-axes would say less clearly.
        "django_auth_ldap": {"level": "WARNING"},
        "axes": {"level": "ERROR"},
    },
}
