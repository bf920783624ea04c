import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hub.settings")
application = get_asgi_application()

from modules_registry.uploads import remove_files_of_dead_processes  # noqa: E402  (needs the app registry)

remove_files_of_dead_processes()  # a web process killed mid-upload left its partial temporary file
