"""The decomposition engine: pure PyTorch, no Django.

Everything under this package must stay importable without Django
(``tests/engine/test_no_django.py`` checks it). The bridge to the registry is ``modules_registry/tasks.py``.
"""
