from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination


class HubPagination(PageNumberPagination):
    """Pages of 25 (page_size up to 100). A page_size that is not a positive integer is a 400, not ignored."""

    page_size = 25
    page_size_query_param = "page_size"
    max_page_size = 100

    def get_page_size(self, request):
        raw = request.query_params.getlist(self.page_size_query_param)
        if not raw:
            return self.page_size
        try:
            size = int(raw[-1])
        except ValueError:
            size = 0
        if len(raw) > 1 or size < 1:
            raise ValidationError({self.page_size_query_param: ["must be one positive integer"]})
        return min(size, self.max_page_size)
