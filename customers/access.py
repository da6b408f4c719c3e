"""Access helpers: the only way views and API views reach a customer."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils.translation import gettext as _

from customers.models import Customer, CustomerGroup


def customer_get_for_user(*, user, code: str, write: bool = False) -> Customer:
    """The customer with ``code`` if ``user`` may see it (and change it, with ``write``).

    Raises PermissionDenied before looking the code up, so outsiders learn nothing about which codes exist.
    """
    perm = "customers.change_customer" if write else "customers.view_customer"
    if not (user.is_authenticated and user.has_perm(perm)):
        raise PermissionDenied
    customer = Customer.objects.select_related("group", "owner").filter(code=code).first()
    if customer is None:
        raise Http404(_("No customer with this code."))
    return customer


def group_get_for_user(*, user, code: str, write: bool = False) -> CustomerGroup:
    perm = "customers.change_customergroup" if write else "customers.view_customergroup"
    if not (user.is_authenticated and user.has_perm(perm)):
        raise PermissionDenied
    group = CustomerGroup.objects.filter(code=code).first()
    if group is None:
        raise Http404(_("No customer group with this code."))
    return group
