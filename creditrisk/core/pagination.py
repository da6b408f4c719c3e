"""Pagination that stays fast on tables of tens of millions of rows.

Counting a 30-million-row table on every page is the slow part of a paginated list, so the count is
capped: it is exact up to COUNT_CAP rows and reported as "at least COUNT_CAP" beyond (the response
says which with ``count_exact``). Pages past the cap still work; only the total is not exact.
"""

from __future__ import annotations

from django.core.paginator import Paginator
from django.utils.functional import cached_property
from rest_framework.pagination import PageNumberPagination as DRFPageNumberPagination
from rest_framework.response import Response

COUNT_CAP = 100_000


class CappedCountPaginator(Paginator):
    @cached_property
    def count(self) -> int:
        object_list = self.object_list
        if hasattr(object_list, "query"):
            # COUNT(*) over a LIMITed subquery: reads at most COUNT_CAP + 1 index entries.
            return object_list.order_by()[: COUNT_CAP + 1].count()
        return len(object_list)

    @property
    def count_exact(self) -> bool:
        return self.count <= COUNT_CAP

    def validate_number(self, number):
        # Past the cap the real last page is unknown: let any positive page through, the page is then
        # simply empty if it is past the end.
        if not self.count_exact:
            try:
                number = int(number)
            except (TypeError, ValueError):
                return super().validate_number(number)
            if number >= 1:
                return number
        return super().validate_number(number)

    def page(self, number):
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        if self.count_exact and top + self.orphans >= self.count:
            top = self.count
        return self._get_page(self.object_list[bottom:top], number, self)


class PageNumberPagination(DRFPageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 1000
    django_paginator_class = CappedCountPaginator

    def get_paginated_response(self, data):
        return Response({
            "count": self.page.paginator.count,
            "count_exact": self.page.paginator.count_exact,
            "next": self.get_next_link(),
            "previous": self.get_previous_link(),
            "results": data,
        })

    def get_paginated_response_schema(self, schema):
        response = super().get_paginated_response_schema(schema)
        response["properties"]["count_exact"] = {"type": "boolean", "example": True}
        return response
