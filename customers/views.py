"""Pages of the credit file: the customer list and its exports, create/edit, the credit file's tabs,
group pages and the custom-attribute settings. Views parse, check access, call services/selectors, render."""

from __future__ import annotations

from decimal import Decimal

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Q, Sum
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from creditrisk.core.decorators import permission_or_403, section_required
from creditrisk.core.exceptions import DomainError
from creditrisk.core.models import AuditEvent
from customers import exports, finance, selectors, services
from customers.access import customer_get_for_user, group_get_for_user
from customers.forms import (
    AttributeDefinitionForm,
    ContactForm,
    CustomerFilterForm,
    DocumentForm,
    InvoiceFilterForm,
    OrderFilterForm,
    PaymentFilterForm,
    attribute_label,
    customer_form,
    owner_choices_queryset,
)
from customers.models import (
    OPEN_ORDER_STATUSES,
    AttributeDefinition,
    Customer,
    Industry,
    SalesOrder,
)

LIST_PAGE_SIZE = 50
TAB_PAGE_SIZE = 20
# sort key in the URL → ORDER BY (a unique tie-breaker keeps pages stable)
SORTS = {
    "code": ("code",),
    "name": ("name", "code"),
    "status": ("status", "code"),
    "grade": ("current_grade", "code"),
}
TABS = [
    ("overview", gettext_lazy("Overview")),
    ("transactions", gettext_lazy("Transactions")),
    ("financials", gettext_lazy("Financials")),
    ("reports", gettext_lazy("Credit reports")),
    ("documents", gettext_lazy("Documents")),
    ("contacts", gettext_lazy("Contacts")),
    ("history", gettext_lazy("History")),
]
TAB_KEYS = {key for key, _label in TABS}


def _active_definitions() -> list[AttributeDefinition]:
    return list(AttributeDefinition.objects.filter(active=True).order_by("key"))


def _error_messages(error: ValidationError | DomainError) -> ValidationError:
    if isinstance(error, DomainError):
        return ValidationError(error.errors or error.message) if error.errors else ValidationError(error.message)
    return error


# --------------------------------------------------------------------------------------------------
# list and exports


def _sort(request) -> tuple[str, tuple[str, ...]]:
    raw = request.GET.get("sort", "code")
    key = raw.lstrip("-")
    if key not in SORTS:
        return "code", SORTS["code"]
    fields = SORTS[key]
    if raw.startswith("-"):
        fields = tuple(f"-{f}" for f in fields)
    return raw, fields


def _filtered_customers(request, definitions):
    form = CustomerFilterForm(request.GET or None, definitions=definitions)
    filters = form.filters() if request.GET else {}
    queryset = selectors.customer_list(filters=filters)
    sort, order_by = _sort(request)
    return form, filters, queryset.order_by(*order_by), sort


def _open_ar_for(customer_ids: list[int]) -> dict[int, Decimal]:
    if not customer_ids:
        return {}
    frame = selectors.behaviour_frame(as_of=timezone.localdate(), customer_ids=customer_ids)
    if frame is None or len(frame) == 0:
        return {}
    if "customer_id" in frame.columns:
        frame = frame.set_index("customer_id")
    return {int(pk): Decimal(str(value)) for pk, value in frame["open_ar"].items()}


@section_required("customers")
@require_GET
def customer_list(request):
    definitions = _active_definitions()
    form, filters, customers, sort = _filtered_customers(request, definitions)
    page = Paginator(customers.select_related("owner", "group"), LIST_PAGE_SIZE).get_page(request.GET.get("page"))
    rows = list(page.object_list)
    open_ar = _open_ar_for([c.pk for c in rows])
    for customer in rows:
        customer.open_ar = open_ar.get(customer.pk, Decimal("0"))
    context = {
        "title": _("Customers"),
        "form": form,
        "page": page,
        "rows": rows,
        "sort": sort,
        "filtered": bool(filters),
        "definitions": definitions,
        "owners": owner_choices_queryset(),
        "industries": Industry.objects.all(),
        "can_add": request.user.has_perm("customers.add_customer"),
        "export_query": request.GET.urlencode(),
    }
    if not request.htmx:
        return render(request, "customers/customer_list.html", context)
    response = render(request, "customers/customer_list.html#results", context)
    # The filter form sends every field; the address bar keeps only the ones in use.
    used = request.GET.copy()
    for key in [k for k, v in used.items() if not v.strip()]:
        del used[key]
    response["HX-Push-Url"] = f"{request.path}?{used.urlencode()}" if used else request.path
    return response


@section_required("customers")
@require_GET
def customer_export(request, fmt: str):
    definitions = _active_definitions()
    _form, _filters, customers, _sort_key = _filtered_customers(request, definitions)
    if fmt == "xlsx":
        return exports.customers_xlsx_response(customers, definitions=definitions)
    return exports.customers_csv_response(customers, definitions=definitions)


# --------------------------------------------------------------------------------------------------
# create / edit


def _customer_form_page(request, *, form, customer=None, validate_only=False):
    context = {"form": form, "customer": customer,
               "title": _("Edit %(name)s") % {"name": customer.name} if customer else _("New customer")}
    template = "customers/customer_form.html#form" if request.htmx else "customers/customer_form.html"
    if validate_only:
        template = "customers/customer_form.html#validation"
    return render(request, template, context, status=200)


def _only_errors_for_filled_fields(form, data) -> None:
    """Inline validation while typing: do not nag about fields the user has not reached yet."""
    for name in list(form.errors):
        if name == "__all__" or not (data.get(name) or "").strip():
            del form.errors[name]


def _save_customer(request, *, form, customer: Customer | None):
    try:
        if customer is None:
            saved = services.customer_create(actor=request.user, **form.service_fields())
        else:
            saved = services.customer_update(customer=customer, data=form.service_fields(), actor=request.user,
                                             reason=form.cleaned_data.get("reason", ""))
    except (ValidationError, DomainError) as error:
        form.add_service_errors(_error_messages(error))
        return None
    return saved


@section_required("customers")
@require_http_methods(["GET", "POST"])
def customer_create(request):
    permission_or_403(request.user, "customers.add_customer")
    definitions = _active_definitions()
    if request.method == "POST":
        form = customer_form(data=request.POST, definitions=definitions)
        valid = form.is_valid()
        if request.GET.get("validate"):
            _only_errors_for_filled_fields(form, request.POST)
            return _customer_form_page(request, form=form, validate_only=True)
        if valid:
            saved = _save_customer(request, form=form, customer=None)
            if saved is not None:
                messages.success(request, _("Customer %(code)s created.") % {"code": saved.code})
                url = reverse("customers:detail", args=[saved.code])
                return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
    else:
        form = customer_form(definitions=definitions)
    return _customer_form_page(request, form=form)


@section_required("customers")
@require_http_methods(["GET", "POST"])
def customer_edit(request, code: str):
    customer = customer_get_for_user(user=request.user, code=code, write=True)
    permission_or_403(request.user, "customers.change_customer")
    definitions = _active_definitions()
    if request.method == "POST":
        form = customer_form(data=request.POST, instance=customer, definitions=definitions)
        valid = form.is_valid()
        if request.GET.get("validate"):
            _only_errors_for_filled_fields(form, request.POST)
            return _customer_form_page(request, form=form, customer=customer, validate_only=True)
        if valid:
            saved = _save_customer(request, form=form, customer=customer)
            if saved is not None:
                messages.success(request, _("Customer %(code)s saved.") % {"code": saved.code})
                url = reverse("customers:detail", args=[saved.code])
                return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
    else:
        form = customer_form(instance=customer, definitions=definitions)
    return _customer_form_page(request, form=form, customer=customer)


# --------------------------------------------------------------------------------------------------
# the credit file


def _page(request, queryset, param: str, size: int = TAB_PAGE_SIZE):
    return Paginator(queryset, size).get_page(request.GET.get(param))


def _tab_overview(request, customer):
    today = timezone.localdate()
    behaviour = selectors.customer_behaviour(customer=customer, as_of=today)
    open_orders = (SalesOrder.objects.filter(customer=customer, status__in=OPEN_ORDER_STATUSES)
                   .aggregate(total=Sum("amount"))["total"]) or Decimal("0")
    open_ar = Decimal(str(behaviour.get("open_ar") or 0))
    attributes = [(attribute_label(d), d, (customer.attributes or {}).get(d.key))
                  for d in AttributeDefinition.objects.filter(Q(active=True) | Q(key__in=list(customer.attributes or {})))]
    return {
        "behaviour": behaviour,
        "open_orders": open_orders,
        "exposure": open_ar + open_orders,
        "attributes": attributes,
        "as_of": today,
        "industry": _industry_label(customer.industry),
    }


def _industry_label(value: str) -> str:
    """A code from the managed industry list shows as "C13 Name" (Chinese name in Chinese); free text as is."""
    if not value:
        return ""
    industry = Industry.objects.filter(code=value).first()
    if industry is None:
        return value
    zh = translation.get_language() and translation.get_language().startswith("zh")
    return f"{industry.code} {industry.name_zh if zh and industry.name_zh else industry.name}"


AGING_COLORS = ["#1f7a4d", "#8fb339", "#d39e00", "#d9661f", "#b3261e"]


def _tab_transactions(request, customer):
    today = timezone.localdate()
    behaviour = selectors.customer_behaviour(customer=customer, as_of=today)
    aging = [(label, behaviour.get(key) or 0) for key, label in selectors.AGING_BUCKETS]
    chart = {
        "type": "bar",
        "format": "money",
        "legend": False,
        "labels": [str(label) for label, _v in aging],
        "datasets": [{"label": str(_("Open amount")), "data": [float(v) for _l, v in aging],
                      "colors": AGING_COLORS}],
    }
    invoice_form = InvoiceFilterForm(request.GET)
    invoice_form.is_valid()
    inv = invoice_form.cleaned_data
    invoice_filters = {"status": inv.get("inv_status") or None, "issued_from": inv.get("inv_from"),
                       "issued_to": inv.get("inv_to")}
    payment_form = PaymentFilterForm(request.GET)
    payment_form.is_valid()
    payment_filters = {"date_from": payment_form.cleaned_data.get("pay_from"),
                       "date_to": payment_form.cleaned_data.get("pay_to")}
    order_form = OrderFilterForm(request.GET)
    order_form.is_valid()
    order_filters = {"status": order_form.cleaned_data.get("ord_status") or None}
    return {
        "behaviour": behaviour,
        "aging": aging,
        "aging_chart": chart,
        "invoice_form": invoice_form,
        "order_form": order_form,
        "invoices": _page(request, selectors.invoice_list(customer=customer, filters=_compact(invoice_filters)),
                          "inv_page"),
        "payment_form": payment_form,
        "payments": _page(request, selectors.payment_list(customer=customer, filters=_compact(payment_filters)),
                          "pay_page"),
        "orders": _page(request, selectors.order_list(customer=customer, filters=_compact(order_filters)),
                        "ord_page"),
    }


def _compact(filters: dict) -> dict:
    return {k: v for k, v in filters.items() if v not in (None, "")}


def _tab_financials(request, customer):
    trend = finance.statements_trend(customer=customer)  # oldest first, one query
    low, high = finance.Z_MODELS["z_double_prime"]["zones"]
    labels = [f"{item['period_end']:%Y-%m-%d}" + ("" if item["period_type"] == "annual" else " *")
              for item in trend]
    chart = {
        "type": "line",
        "format": "number",
        "labels": labels,
        "datasets": [
            {"label": str(_("Z″-score")), "data": [_round(item.get("z_double_prime")) for item in trend],
             "color": "#1d4e89"},
            {"label": str(_("Safe zone above")), "data": [high] * len(trend), "color": "#1f7a4d",
             "dashed": True, "pointRadius": 0},
            {"label": str(_("Distress zone below")), "data": [low] * len(trend), "color": "#b3261e",
             "dashed": True, "pointRadius": 0},
        ],
    }
    latest_first = list(reversed(trend))[:FINANCIAL_COLUMNS]
    return {"analyses": [(item["statement"], item) for item in latest_first], "z_chart": chart,
            "statement_count": len(trend), "zones": {"low": low, "high": high}}


FINANCIAL_COLUMNS = 8


def _round(value, places: int = 3):
    return None if value is None else round(float(value), places)


def _tab_reports(request, customer):
    return {"reports": _page(request, customer.credit_reports.order_by("-report_date", "-pk"), "page")}


def _tab_documents(request, customer, form=None):
    can_upload = request.user.has_perm("customers.add_document")
    return {
        "documents": _page(request, customer.documents.select_related("uploaded_by").order_by("-created_at", "-pk"),
                           "page"),
        "document_form": form or (DocumentForm() if can_upload else None),
        "can_upload": can_upload,
    }


def _tab_contacts(request, customer, form=None):
    can_add = request.user.has_perm("customers.add_contact")
    return {
        "contacts": list(customer.contacts.order_by("-is_primary", "name")),
        "contact_form": form or (ContactForm() if can_add else None),
        "can_add_contact": can_add,
    }


def _tab_history(request, customer):
    related = Q(subject_type="customers.customer", subject_id=str(customer.pk))
    contact_ids = [str(pk) for pk in customer.contacts.values_list("pk", flat=True)]
    document_ids = [str(pk) for pk in customer.documents.values_list("pk", flat=True)]
    if contact_ids:
        related |= Q(subject_type="customers.contact", subject_id__in=contact_ids)
    if document_ids:
        related |= Q(subject_type="customers.document", subject_id__in=document_ids)
    events = AuditEvent.objects.filter(related).order_by("-seq")
    return {"events_page": _page(request, events, "page", 50)}


TAB_CONTEXT = {
    "overview": _tab_overview,
    "transactions": _tab_transactions,
    "financials": _tab_financials,
    "reports": _tab_reports,
    "documents": _tab_documents,
    "contacts": _tab_contacts,
    "history": _tab_history,
}
# parts of a tab an htmx request may ask for alone (?part=…): a table's filters or pager
TAB_PARTS = {"transactions": {"invoices", "payments", "orders"}}


def _render_credit_file(request, customer, tab: str, extra: dict | None = None, status: int = 200):
    context = {
        "customer": customer,
        "title": str(customer),
        "tab": tab,
        "tabs": [(key, label, _tab_url(customer, key)) for key, label in TABS],
        "can_edit": request.user.has_perm("customers.change_customer"),
        **(extra if extra is not None else TAB_CONTEXT[tab](request, customer)),
    }
    template = "customers/customer_detail.html"
    if request.htmx:
        part = request.GET.get("part", "")
        template += f"#{part}" if part in TAB_PARTS.get(tab, ()) else "#credit_file"
    return render(request, template, context, status=status)


def _tab_url(customer, tab: str) -> str:
    if tab == "overview":
        return reverse("customers:detail", args=[customer.code])
    return reverse("customers:tab", args=[customer.code, tab])


@section_required("customers")
@require_GET
def customer_detail(request, code: str, tab: str = "overview"):
    if tab not in TAB_KEYS:
        raise Http404
    customer = customer_get_for_user(user=request.user, code=code)
    return _render_credit_file(request, customer, tab)


@section_required("customers")
@require_POST
def contact_add(request, code: str):
    customer = customer_get_for_user(user=request.user, code=code, write=True)
    permission_or_403(request.user, "customers.add_contact")
    form = ContactForm(request.POST)
    if form.is_valid():
        try:
            services.contact_create(customer=customer, actor=request.user, **form.cleaned_data)
        except (ValidationError, DomainError) as error:
            _add_errors(form, _error_messages(error))
        else:
            messages.success(request, _("Contact added."))
            if not request.htmx:
                return redirect(_tab_url(customer, "contacts"))
            form = None
    extra = _tab_contacts(request, customer, form=form)
    return _render_credit_file(request, customer, "contacts", extra=extra)


@section_required("customers")
@require_POST
def document_add(request, code: str):
    customer = customer_get_for_user(user=request.user, code=code, write=True)
    permission_or_403(request.user, "customers.add_document")
    form = DocumentForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            services.document_upload(customer=customer, file=form.cleaned_data["file"],
                                     title=form.cleaned_data["title"], actor=request.user)
        except (ValidationError, DomainError) as error:
            _add_errors(form, _error_messages(error))
        else:
            messages.success(request, _("Document uploaded."))
            if not request.htmx:
                return redirect(_tab_url(customer, "documents"))
            form = None
    extra = _tab_documents(request, customer, form=form)
    return _render_credit_file(request, customer, "documents", extra=extra)


def _add_errors(form, error: ValidationError) -> None:
    if hasattr(error, "error_dict"):
        for key, errors in error.message_dict.items():
            for message in errors:
                form.add_error(key if key in form.fields else None, message)
    else:
        for message in error.messages:
            form.add_error(None, message)


@section_required("customers")
@require_GET
def document_download(request, code: str, pk: int):
    """Files are never public MEDIA urls: stream them after the access check."""
    customer = customer_get_for_user(user=request.user, code=code)
    document = get_object_or_404(customer.documents, pk=pk)
    try:
        handle = document.file.open("rb")
    except (FileNotFoundError, OSError) as exc:
        raise Http404 from exc
    filename = document.file.name.rsplit("/", 1)[-1]
    return FileResponse(handle, as_attachment=True, filename=filename, content_type=document.content_type)


@section_required("customers")
@require_GET
def credit_report_download(request, code: str, pk: int):
    customer = customer_get_for_user(user=request.user, code=code)
    report = get_object_or_404(customer.credit_reports, pk=pk)
    if not report.file:
        raise Http404
    try:
        handle = report.file.open("rb")
    except (FileNotFoundError, OSError) as exc:
        raise Http404 from exc
    return FileResponse(handle, as_attachment=True, filename=report.file.name.rsplit("/", 1)[-1])


# --------------------------------------------------------------------------------------------------
# groups


@section_required("customers")
@require_GET
def group_detail(request, code: str):
    group = group_get_for_user(user=request.user, code=code)
    members = Customer.objects.filter(group=group).select_related("owner").order_by("code")
    today = timezone.localdate()
    frame = selectors.behaviour_frame(as_of=today, customer_ids=members.values("pk"))
    if frame is not None and len(frame) and "customer_id" in frame.columns:
        frame = frame.set_index("customer_id")
    totals = {
        "open_ar": Decimal(str(round(float(frame["open_ar"].sum()), 2))) if len(frame) else Decimal("0"),
        "overdue": Decimal(str(round(float(frame["overdue_amount"].sum()), 2))) if len(frame) else Decimal("0"),
    }
    totals["open_orders"] = (SalesOrder.objects.filter(customer__group=group, status__in=OPEN_ORDER_STATUSES)
                             .aggregate(total=Sum("amount"))["total"]) or Decimal("0")
    totals["exposure"] = totals["open_ar"] + totals["open_orders"]
    totals["overdue_ratio"] = (totals["overdue"] / totals["open_ar"]) if totals["open_ar"] else None
    page = _page(request, members, "page", LIST_PAGE_SIZE)
    rows = list(page.object_list)
    for customer in rows:
        customer.open_ar = _frame_value(frame, customer.pk, "open_ar")
        customer.overdue_amount = _frame_value(frame, customer.pk, "overdue_amount")
    context = {"group": group, "page": page, "rows": rows, "totals": totals,
               "member_count": page.paginator.count, "title": str(group)}
    template = "customers/group_detail.html#members" if request.htmx else "customers/group_detail.html"
    return render(request, template, context)


def _frame_value(frame, pk: int, column: str) -> Decimal:
    try:
        return Decimal(str(round(float(frame.at[pk, column]), 2)))
    except (KeyError, TypeError, ValueError):
        return Decimal("0")


# --------------------------------------------------------------------------------------------------
# settings


SETTINGS_PAGES = [
    # (url name, title, description); pages not installed yet are skipped
    ("attributes:list", gettext_lazy("Custom attributes"),
     gettext_lazy("Extra customer fields (number, category, text, date, yes/no) used in forms, imports and scores.")),
    ("settings_policy", gettext_lazy("Credit policy"),
     gettext_lazy("Limits, payment terms, security and review frequency per grade.")),
    ("settings_authority", gettext_lazy("Authority matrix"),
     gettext_lazy("Who may approve how much at which grade.")),
    ("settings_alert_rules", gettext_lazy("Alert rules"),
     gettext_lazy("Thresholds, severities and which early warnings are on.")),
]


@section_required("settings")
@require_GET
def settings_index(request):
    pages = []
    for name, title, description in SETTINGS_PAGES:
        try:
            pages.append({"url": reverse(name), "title": title, "description": description})
        except NoReverseMatch:
            continue
    return render(request, "customers/settings_index.html", {"pages": pages, "title": _("Settings")})


@section_required("settings")
@require_GET
def attribute_list(request):
    definitions = AttributeDefinition.objects.order_by("-active", "key")
    return render(request, "customers/attribute_list.html", {
        "definitions": definitions,
        "title": _("Custom attributes"),
        "can_add": request.user.has_perm("customers.add_attributedefinition"),
        "can_change": request.user.has_perm("customers.change_attributedefinition"),
    })


def _attribute_form_page(request, form, definition=None):
    context = {"form": form, "definition": definition,
               "title": _("Edit attribute %(label)s") % {"label": definition.label} if definition
               else _("New custom attribute")}
    template = "customers/attribute_form.html#form" if request.htmx else "customers/attribute_form.html"
    return render(request, template, context)


@section_required("settings")
@require_http_methods(["GET", "POST"])
def attribute_create(request):
    permission_or_403(request.user, "customers.add_attributedefinition")
    form = AttributeDefinitionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            definition = services.attribute_definition_create(actor=request.user, **form.service_fields())
        except (ValidationError, DomainError) as error:
            _add_errors(form, _error_messages(error))
        else:
            messages.success(request, _("Attribute %(key)s created.") % {"key": definition.key})
            url = reverse("attributes:list")
            return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
    return _attribute_form_page(request, form)


@section_required("settings")
@require_http_methods(["GET", "POST"])
def attribute_edit(request, pk: int):
    permission_or_403(request.user, "customers.change_attributedefinition")
    definition = get_object_or_404(AttributeDefinition, pk=pk)
    form = AttributeDefinitionForm(request.POST or None, instance=definition)
    if request.method == "POST" and form.is_valid():
        try:
            services.attribute_definition_update(definition=definition, data=form.service_fields(),
                                                 actor=request.user)
        except (ValidationError, DomainError) as error:
            _add_errors(form, _error_messages(error))
        else:
            messages.success(request, _("Attribute %(key)s saved.") % {"key": definition.key})
            url = reverse("attributes:list")
            return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
    return _attribute_form_page(request, form, definition)


@section_required("settings")
@require_POST
def attribute_toggle(request, pk: int):
    """Deactivate (or reactivate) a definition: values stay on the customers, the field leaves forms."""
    permission_or_403(request.user, "customers.change_attributedefinition")
    definition = get_object_or_404(AttributeDefinition, pk=pk)
    try:
        services.attribute_definition_update(definition=definition, data={"active": not definition.active},
                                             actor=request.user)
    except (ValidationError, DomainError) as error:
        messages.error(request, "; ".join(_error_messages(error).messages))
    else:
        messages.success(request, _("Attribute %(key)s deactivated.") % {"key": definition.key}
                         if definition.active else _("Attribute %(key)s reactivated.") % {"key": definition.key})
    return redirect("attributes:list")
