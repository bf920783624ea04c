"""The decomposition engine: pure PyTorch, no Django.

Everything under this package except ``tasks.py`` must stay importable without Django
(``tests/engine/test_no_django.py`` checks it). ``tasks.py`` is the one bridge to the registry.
"""
