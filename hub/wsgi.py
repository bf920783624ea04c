import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hub.settings")
application = get_wsgi_application()

from modules_registry.uploads import remove_files_of_dead_processes  # noqa: E402  (needs the app registry)

remove_files_of_dead_processes()  # a web process killed mid-upload left its partial temporary file
