"""One settings module; everything that differs between machines comes from the environment.

HUB_DATA_DIR      where the SQLite database and media live (default ./var); HUB_SQLITE_PATH and
                  HUB_MEDIA_ROOT override the two parts
DATABASE_URL      e.g. postgres://user:pass@host/db to use PostgreSQL instead of SQLite
HUB_STORAGE       "local" (default) or "s3" (django-storages; AWS_* variables configure it)
SECRET_KEY, DEBUG, ALLOWED_HOSTS, CSRF_TRUSTED_ORIGINS   production settings
"""
from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.core.management.utils import get_random_secret_key

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    return default if value is None else value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DATA_DIR = Path(os.environ.get("HUB_DATA_DIR", BASE_DIR / "var")).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("DEBUG", True)
SECRET_KEY = os.environ.get("SECRET_KEY") or ""
if not SECRET_KEY:
    if not DEBUG:
        raise RuntimeError("SECRET_KEY must be set when DEBUG is off")
    # A development key kept beside the data, so sessions survive restarts.
    key_file = DATA_DIR / "dev-secret-key"
    if not key_file.exists():
        key_file.write_text(get_random_secret_key())
    SECRET_KEY = key_file.read_text().strip()

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "modules_registry",  # first: its db_worker command wraps django_tasks_db's
    "frontend",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_tasks",
    "django_tasks_db",
    # REST API (issue 7)
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "accounts",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "hub.urls"
WSGI_APPLICATION = "hub.wsgi.application"

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

if os.environ.get("DATABASE_URL"):
    # Health checks: a connection that broke while idle (a database restart) is replaced before a request uses it.
    DATABASES = {"default": dj_database_url.parse(os.environ["DATABASE_URL"], conn_max_age=60,
                                                  conn_health_checks=True)}
    # One test database per test process, so that two runs on one server never share (or drop) each other's.
    DATABASES["default"]["TEST"] = {"NAME": f"test_hub_{os.getpid()}"}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("HUB_SQLITE_PATH") or DATA_DIR / "hub.sqlite3",
            # Tests use a file, not memory, so that a real worker process can share it.
            "TEST": {"NAME": str(DATA_DIR / f"test-hub-{os.getpid()}.sqlite3")},
            "OPTIONS": {
                # WAL lets the web server read while the worker writes; IMMEDIATE takes the write
                # lock at BEGIN so two writers queue up instead of failing with "database is locked".
                "transaction_mode": "IMMEDIATE",
                "timeout": 30,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

MEDIA_ROOT = Path(os.environ.get("HUB_MEDIA_ROOT") or DATA_DIR / "media")
MEDIA_URL = "/media/"
STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)  # WhiteNoise warns at start-up when it is missing (before collectstatic)
STATICFILES_DIRS = [BASE_DIR / "static"]

if os.environ.get("HUB_STORAGE", "local") == "s3":
    DEFAULT_STORAGE = {"BACKEND": "storages.backends.s3.S3Storage",
                       "OPTIONS": {"bucket_name": os.environ.get("AWS_STORAGE_BUCKET_NAME", ""),
                                   "file_overwrite": False}}
else:
    DEFAULT_STORAGE = {"BACKEND": "django.core.files.storage.FileSystemStorage",
                       "OPTIONS": {"location": str(MEDIA_ROOT)}}
STORAGES = {
    "default": DEFAULT_STORAGE,
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage" if not DEBUG
                    else "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

TASKS = {
    "default": {
        "BACKEND": os.environ.get("HUB_TASKS_BACKEND", "django_tasks_db.DatabaseBackend"),
        # Lanes (modules_registry.lanes): "fast" for short jobs (imports, evaluations, builds, patches), "default"
        # for long ones (training, decomposition), "gpu" for jobs asked to run on CUDA; a worker per lane.
        "QUEUES": ["fast", "default", "gpu"],
    }
}
# CUDA devices each worker of the gpu queue sees (one worker per GPU: CUDA_VISIBLE_DEVICES=i, so 1). 0 (the
# default): the hub runs no GPU worker, and a job asking for "cuda" is refused at the door (device_unavailable)
# instead of waiting forever on a queue nobody serves; "auto" runs on a worker's GPU where it has one.
HUB_GPU_DEVICES = int(os.environ.get("HUB_GPU_DEVICES", "0"))

# Jobs: a running job's worker writes a heartbeat; one silent for longer than the timeout is
# declared dead (its worker crashed or was killed) and marked failed.
JOB_HEARTBEAT_SECONDS = float(os.environ.get("HUB_JOB_HEARTBEAT_SECONDS", "5"))
JOB_HEARTBEAT_TIMEOUT_SECONDS = float(os.environ.get("HUB_JOB_HEARTBEAT_TIMEOUT_SECONDS", "60"))

# Memory (#19): a job whose estimated memory (splitter_engine.resources) is over HUB_JOB_MEMORY_BYTES is refused
# at the door (job_too_large; 0: no limit). A worker caps its own data memory at HUB_WORKER_MEMORY_BYTES (0: no
# cap; unset: 80 % of the machine's memory for CPU workers, no cap for workers of the gpu queue), so a job that
# outgrows it fails with "out of memory" instead of the kernel killing the worker.
HUB_WORKER_MEMORY_BYTES = (int(os.environ["HUB_WORKER_MEMORY_BYTES"]) if os.environ.get("HUB_WORKER_MEMORY_BYTES")
                           else None)
HUB_JOB_MEMORY_BYTES = int(os.environ.get("HUB_JOB_MEMORY_BYTES", str(8 * 1024**3)))
# Quotas (#19.6, modules_registry/services/quotas.py): per user, counted from the database at the door, so they hold
# across web processes and machines. Jobs queued or running at once (quota_jobs, 429) and bytes stored (quota_storage,
# 413); 0: no limit.
HUB_QUOTA_JOBS = int(os.environ.get("HUB_QUOTA_JOBS", "20"))
HUB_QUOTA_BYTES = int(os.environ.get("HUB_QUOTA_BYTES", str(20 * 1024**3)))
# "Try it" on a build's page: images up to this many bytes, this many classified at once per server process.
HUB_TRY_MAX_BYTES = int(os.environ.get("HUB_TRY_MAX_BYTES", str(10 * 1024**2)))
HUB_TRY_CONCURRENCY = int(os.environ.get("HUB_TRY_CONCURRENCY", "2"))
HUB_THROTTLE_TRY = os.environ.get("HUB_THROTTLE_TRY", "30/min")  # per user

# Uploads: refused while streaming once over this size (bytes).
HUB_MAX_UPLOAD_BYTES = int(os.environ.get("HUB_MAX_UPLOAD_BYTES", str(2 * 1024**3)))
# Every upload streams to a temporary file (never held in memory) through the size check. The files live in the
# hub's own directory, named after their process, so that a process killed mid-upload leaves nothing for long: the
# next web process or worker to start on the machine removes them (modules_registry.uploads).
FILE_UPLOAD_HANDLERS = ["modules_registry.uploads.SizeLimitedUploadHandler",
                        "modules_registry.uploads.TaggedTemporaryFileUploadHandler"]
FILE_UPLOAD_TEMP_DIR = str(Path(os.environ.get("HUB_UPLOAD_TEMP_DIR") or DATA_DIR / "upload-tmp"))
Path(FILE_UPLOAD_TEMP_DIR).mkdir(parents=True, exist_ok=True)
# A staged upload lives while its import job is queued or running; one no such job names is removed by a worker's
# sweep once older than this (a margin for a request between staging its file and committing its job).
HUB_STAGED_UPLOAD_ORPHAN_SECONDS = float(os.environ.get("HUB_STAGED_UPLOAD_ORPHAN_SECONDS", "3600"))

# --- REST API (issue 7) -------------------------------------------------------------------------
# Session auth for the browser (with CSRF), API tokens ("Authorization: Bearer hub_…") for scripts.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["modules_registry.api.authentication.BearerTokenAuthentication",
                                       "rest_framework.authentication.SessionAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["modules_registry.api.permissions.ReadAnyWriteWithScope"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],  # uploads add multipart
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend",
                                "rest_framework.filters.SearchFilter", "rest_framework.filters.OrderingFilter"],
    "DEFAULT_PAGINATION_CLASS": "modules_registry.api.pagination.HubPagination",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "modules_registry.api.exceptions.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["rest_framework.throttling.AnonRateThrottle",
                                 "rest_framework.throttling.UserRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "anon": os.environ.get("HUB_THROTTLE_ANON", "600/min"),
        "user": os.environ.get("HUB_THROTTLE_USER", "1200/min"),
        "uploads": os.environ.get("HUB_THROTTLE_UPLOADS", "60/hour"),
        "builds": os.environ.get("HUB_THROTTLE_BUILDS", "120/hour"),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Modular CNN Hub API",
    "DESCRIPTION": "Store CNN classifiers, split them into per-class modules, build new classifiers as ONNX. "
                   "Errors are {code, message, details}; commands answer 202 with the job to poll.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "JobKindEnum": "modules_registry.models.Job.Kind",
        "BuildKindEnum": "modules_registry.models.Build.Kind",
        "BuildStrategyEnum": "modules_registry.models.Build.Strategy",
        "ModelFormatEnum": "modules_registry.models.BaseModel.Format",
        "DatasetUploadFormatEnum": "modules_registry.api.serializers.commands.DATASET_FORMATS",
    },
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums",
                             "modules_registry.api.schema.add_error_responses"],
}
# --- end REST API ---------------------------------------------------------------------------------

LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {
        "modules_registry": {"handlers": ["console"], "level": os.environ.get("HUB_LOG_LEVEL", "INFO")},
        "splitter_engine": {"handlers": ["console"], "level": os.environ.get("HUB_LOG_LEVEL", "INFO")},
    },
}
