from django.apps import AppConfig


class ModulesRegistryConfig(AppConfig):
    name = "modules_registry"
    verbose_name = "Modular CNN Hub registry"
