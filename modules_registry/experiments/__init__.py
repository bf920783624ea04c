"""The papers' experiments, run inside the hub: every figure comes from registry rows made by ordinary jobs.

``profiles`` (what each profile trains and decomposes), ``steps`` (child jobs run inside the ``reproduce`` job),
one module per experiment, ``report`` (claims, tables, Markdown and CSV) and ``runner`` (the job's body).
"""
