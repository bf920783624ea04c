"""One page of any list, the same way on every page."""
from __future__ import annotations

from django.core.paginator import Paginator

PER_PAGE = 20


def paginate(request, queryset, per_page: int = PER_PAGE):
    """The requested page (out-of-range or junk numbers give the nearest valid page)."""
    return Paginator(queryset, per_page).get_page(request.GET.get("page"))
