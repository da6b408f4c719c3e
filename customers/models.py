"""The credit file: customers, groups, contacts, custom attributes, transactions, financials, reports."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from creditrisk.core.models import TimeStampedModel
from customers.validators import validate_country, validate_currency

MONEY = {"max_digits": 18, "decimal_places": 2}
ZERO = Decimal("0")


class CustomerStatus(models.TextChoices):
    PROSPECT = "prospect", _("Prospect")
    ACTIVE = "active", _("Active")
    ON_HOLD = "on_hold", _("On hold")
    BLOCKED = "blocked", _("Blocked")
    CLOSED = "closed", _("Closed")


class SizeSegment(models.TextChoices):
    SMALL = "small", _("Small")
    MEDIUM = "medium", _("Medium")
    LARGE = "large", _("Large")


class Industry(models.Model):
    """The managed industry list (customers may also carry free text)."""

    code = models.CharField(_("code"), max_length=20, unique=True)
    name = models.CharField(_("name"), max_length=120)
    name_zh = models.CharField(_("Chinese name"), max_length=120, blank=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("industry")
        verbose_name_plural = _("industries")

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class CustomerGroup(TimeStampedModel):
    """A parent company: exposure and limits are also summed over its members."""

    code = models.CharField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=200)
    registration_no = models.CharField(_("registration number"), max_length=40, blank=True)
    country = models.CharField(_("country"), max_length=2, default="CN", validators=[validate_country])
    notes = models.TextField(_("notes"), blank=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("customer group")
        verbose_name_plural = _("customer groups")

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class Customer(TimeStampedModel):
    code = models.CharField(_("code"), max_length=40, unique=True, help_text=_("The ERP's customer id."))
    name = models.CharField(_("name"), max_length=200, db_index=True)
    registration_no = models.CharField(_("registration number"), max_length=40, blank=True, db_index=True)
    country = models.CharField(_("country"), max_length=2, default="CN", validators=[validate_country])
    region = models.CharField(_("region"), max_length=80, blank=True, db_index=True)
    industry = models.CharField(_("industry"), max_length=120, blank=True, db_index=True)
    size = models.CharField(_("size"), max_length=10, choices=SizeSegment.choices, default=SizeSegment.SMALL)
    group = models.ForeignKey(CustomerGroup, verbose_name=_("group"), null=True, blank=True,
                              on_delete=models.PROTECT, related_name="members")
    relationship_start = models.DateField(_("relationship start"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=CustomerStatus.choices,
                              default=CustomerStatus.ACTIVE, db_index=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("owner analyst"), null=True, blank=True,
                              on_delete=models.SET_NULL, related_name="owned_customers")
    currency = models.CharField(_("currency"), max_length=3, default="CNY", validators=[validate_currency])
    attributes = models.JSONField(_("custom attributes"), default=dict, blank=True)
    # Denormalised current score for fast lists (written by scoring when a run completes).
    current_score = models.DecimalField(_("score"), max_digits=8, decimal_places=2, null=True, blank=True)
    # Not indexed on purpose: the nightly re-score rewrites current_* for every customer, and an index on any
    # of them would rule out PostgreSQL's HOT updates (see migration 0004). A grade has ~10 values, so the
    # list's grade filter is served as well by the code-ordered scan.
    current_grade = models.CharField(_("grade"), max_length=4, blank=True)
    current_pd = models.DecimalField(_("PD"), max_digits=9, decimal_places=6, null=True, blank=True)
    scored_at = models.DateTimeField(_("scored at"), null=True, blank=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        indexes = [models.Index(fields=["status", "size"], name="customer_status_size_idx")]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class Contact(TimeStampedModel):
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="contacts")
    name = models.CharField(_("name"), max_length=120)
    role = models.CharField(_("role"), max_length=80, blank=True)
    email = models.EmailField(_("e-mail"), blank=True)
    phone = models.CharField(_("phone"), max_length=40, blank=True)
    is_primary = models.BooleanField(_("primary contact"), default=False)

    class Meta:
        ordering = ["-is_primary", "name"]
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        constraints = [
            models.UniqueConstraint(fields=["customer"], condition=Q(is_primary=True),
                                    name="contact_one_primary_per_customer"),
        ]

    def __str__(self) -> str:
        return self.name


class AttributeType(models.TextChoices):
    NUMBER = "number", _("Number")
    CATEGORY = "category", _("Category")
    TEXT = "text", _("Text")
    DATE = "date", _("Date")
    BOOLEAN = "boolean", _("Yes/no")


class AttributeDefinition(TimeStampedModel):
    """A custom customer field defined by a manager; values live in Customer.attributes[key]."""

    key = models.SlugField(_("key"), max_length=60, unique=True,
                           help_text=_("Column name in imports and the API (lowercase, no spaces)."))
    label = models.CharField(_("label"), max_length=120)
    label_zh = models.CharField(_("Chinese label"), max_length=120, blank=True)
    type = models.CharField(_("type"), max_length=10, choices=AttributeType.choices)
    choices = models.JSONField(_("allowed values"), default=list, blank=True,
                               help_text=_("For categories: the allowed values."))
    required = models.BooleanField(_("required"), default=False)
    min_value = models.DecimalField(_("minimum"), max_digits=20, decimal_places=6, null=True, blank=True)
    max_value = models.DecimalField(_("maximum"), max_digits=20, decimal_places=6, null=True, blank=True)
    help_text = models.CharField(_("help text"), max_length=255, blank=True)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["key"]
        verbose_name = _("custom attribute")
        verbose_name_plural = _("custom attributes")

    def __str__(self) -> str:
        return self.label


class InvoiceStatus(models.TextChoices):
    OPEN = "open", _("Open")
    PAID = "paid", _("Paid")
    WRITTEN_OFF = "written_off", _("Written off")
    CANCELLED = "cancelled", _("Cancelled")


class Invoice(TimeStampedModel):
    """An open item. amount_paid, paid_date and status (open/paid) are derived by
    customers.services.invoice_paid_recompute from ``paid_outside`` plus the payment allocations."""

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="invoices")
    number = models.CharField(_("number"), max_length=60)
    issue_date = models.DateField(_("issue date"))
    due_date = models.DateField(_("due date"))
    amount = models.DecimalField(_("amount"), **MONEY, validators=[MinValueValidator(Decimal("0.01"))])
    currency = models.CharField(_("currency"), max_length=3, validators=[validate_currency])
    amount_paid = models.DecimalField(_("amount paid"), **MONEY, default=ZERO)
    paid_outside = models.DecimalField(
        _("paid outside"), **MONEY, default=ZERO,
        help_text=_("Amount settled outside the payments recorded here, as reported by the ERP."))
    paid_outside_date = models.DateField(
        _("paid outside on"), null=True, blank=True,
        help_text=_("Date of the settlement outside the recorded payments, if the ERP reports it."))
    paid_date = models.DateField(_("paid date"), null=True, blank=True,
                                 help_text=_("Date the invoice was fully settled."))
    status = models.CharField(_("status"), max_length=12, choices=InvoiceStatus.choices,
                              default=InvoiceStatus.OPEN)
    written_off_date = models.DateField(_("written off on"), null=True, blank=True)

    class Meta:
        ordering = ["-issue_date", "number"]
        verbose_name = _("invoice")
        verbose_name_plural = _("invoices")
        constraints = [
            models.UniqueConstraint(fields=["customer", "number"], name="invoice_unique_number_per_customer"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="invoice_amount_positive"),
            models.CheckConstraint(condition=Q(amount_paid__gte=0), name="invoice_paid_not_negative"),
            models.CheckConstraint(condition=Q(due_date__gte=F("issue_date")), name="invoice_due_after_issue"),
            models.CheckConstraint(condition=Q(amount_paid__lte=F("amount")), name="invoice_paid_within_amount"),
            models.CheckConstraint(condition=Q(paid_outside__gte=0) & Q(paid_outside__lte=F("amount")),
                                   name="invoice_paid_outside_within_amount"),
            models.CheckConstraint(condition=~Q(status="written_off") | Q(written_off_date__isnull=False),
                                   name="invoice_written_off_has_date"),
        ]
        indexes = [
            models.Index(fields=["customer", "issue_date"], name="invoice_customer_issue_idx"),
            models.Index(fields=["customer", "status"], name="invoice_customer_status_idx"),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def open_amount(self) -> Decimal:
        if self.status in (InvoiceStatus.CANCELLED, InvoiceStatus.WRITTEN_OFF):
            return ZERO
        return max(self.amount - self.amount_paid, ZERO)


class Payment(TimeStampedModel):
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="payments")
    reference = models.CharField(_("reference"), max_length=80)
    date = models.DateField(_("date"))
    amount = models.DecimalField(_("amount"), **MONEY, validators=[MinValueValidator(Decimal("0.01"))])
    currency = models.CharField(_("currency"), max_length=3, validators=[validate_currency])

    class Meta:
        ordering = ["-date", "reference"]
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        constraints = [
            models.UniqueConstraint(fields=["customer", "reference"], name="payment_unique_reference_per_customer"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive"),
        ]
        indexes = [models.Index(fields=["customer", "date"], name="payment_customer_date_idx")]

    def __str__(self) -> str:
        return self.reference


class PaymentAllocation(models.Model):
    payment = models.ForeignKey(Payment, on_delete=models.CASCADE, related_name="allocations")
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="allocations")
    amount = models.DecimalField(_("amount"), **MONEY)

    class Meta:
        verbose_name = _("payment allocation")
        constraints = [
            models.UniqueConstraint(fields=["payment", "invoice"], name="allocation_unique_pair"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="allocation_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.payment_id} → {self.invoice_id}: {self.amount}"


class OrderStatus(models.TextChoices):
    OPEN = "open", _("Open")
    HELD = "held", _("Held")
    RELEASED = "released", _("Released")
    SHIPPED = "shipped", _("Shipped")
    CANCELLED = "cancelled", _("Cancelled")


OPEN_ORDER_STATUSES = (OrderStatus.OPEN, OrderStatus.HELD, OrderStatus.RELEASED)


class SalesOrder(TimeStampedModel):
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="orders")
    number = models.CharField(_("number"), max_length=60)
    order_date = models.DateField(_("order date"))
    amount = models.DecimalField(_("amount"), **MONEY, validators=[MinValueValidator(Decimal("0.01"))])
    currency = models.CharField(_("currency"), max_length=3, validators=[validate_currency])
    status = models.CharField(_("status"), max_length=10, choices=OrderStatus.choices, default=OrderStatus.OPEN)

    class Meta:
        ordering = ["-order_date", "number"]
        verbose_name = _("sales order")
        verbose_name_plural = _("sales orders")
        constraints = [
            models.UniqueConstraint(fields=["customer", "number"], name="order_unique_number_per_customer"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="order_amount_positive"),
        ]
        indexes = [models.Index(fields=["customer", "status"], name="order_customer_status_idx")]

    def __str__(self) -> str:
        return self.number


class PeriodType(models.TextChoices):
    ANNUAL = "annual", _("Annual")
    INTERIM = "interim", _("Interim")


class FinancialStatement(TimeStampedModel):
    """Balance sheet, income statement and cash flow; ratios and Z-scores are derived (customers.finance)."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="financial_statements")
    period_end = models.DateField(_("period end"))
    period_type = models.CharField(_("period type"), max_length=8, choices=PeriodType.choices,
                                   default=PeriodType.ANNUAL)
    audited = models.BooleanField(_("audited"), default=False)
    source = models.CharField(_("source"), max_length=80, blank=True)
    currency = models.CharField(_("currency"), max_length=3, validators=[validate_currency])
    revenue = models.DecimalField(_("revenue"), **MONEY)
    cogs = models.DecimalField(_("cost of goods sold"), **MONEY, null=True, blank=True)
    ebit = models.DecimalField(_("EBIT"), **MONEY)
    net_income = models.DecimalField(_("net income"), **MONEY)
    interest_expense = models.DecimalField(_("interest expense"), **MONEY, null=True, blank=True)
    total_assets = models.DecimalField(_("total assets"), **MONEY)
    current_assets = models.DecimalField(_("current assets"), **MONEY)
    cash = models.DecimalField(_("cash"), **MONEY, null=True, blank=True)
    inventory = models.DecimalField(_("inventory"), **MONEY, null=True, blank=True)
    receivables = models.DecimalField(_("receivables"), **MONEY, null=True, blank=True)
    total_liabilities = models.DecimalField(_("total liabilities"), **MONEY)
    current_liabilities = models.DecimalField(_("current liabilities"), **MONEY)
    retained_earnings = models.DecimalField(_("retained earnings"), **MONEY, null=True, blank=True)
    equity = models.DecimalField(_("equity"), **MONEY)
    operating_cash_flow = models.DecimalField(_("operating cash flow"), **MONEY, null=True, blank=True)

    class Meta:
        ordering = ["-period_end"]
        verbose_name = _("financial statement")
        verbose_name_plural = _("financial statements")
        constraints = [
            models.UniqueConstraint(fields=["customer", "period_end", "period_type"],
                                    name="statement_unique_period"),
            models.CheckConstraint(condition=Q(total_assets__gt=0), name="statement_assets_positive"),
            models.CheckConstraint(condition=Q(current_assets__lte=F("total_assets")),
                                   name="statement_current_assets_within_total"),
            models.CheckConstraint(condition=Q(current_assets__gte=0), name="statement_current_assets_not_negative"),
            models.CheckConstraint(condition=Q(current_liabilities__gte=0) & Q(total_liabilities__gte=0),
                                   name="statement_liabilities_not_negative"),
            models.CheckConstraint(condition=Q(current_liabilities__lte=F("total_liabilities")),
                                   name="statement_current_liabilities_within_total"),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.period_end} {self.period_type}"


class CreditReport(TimeStampedModel):
    """A third-party report (bureau, agency, central bank). ``provider`` names the plug-in that made it."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="credit_reports")
    provider = models.CharField(_("provider"), max_length=60)
    report_date = models.DateField(_("report date"))
    score = models.DecimalField(_("external score"), max_digits=10, decimal_places=2, null=True, blank=True)
    rating = models.CharField(_("external rating"), max_length=20, blank=True)
    pd = models.DecimalField(_("external PD"), max_digits=9, decimal_places=6, null=True, blank=True)
    payment_index = models.DecimalField(_("payment index"), max_digits=8, decimal_places=2, null=True, blank=True)
    recommended_limit = models.DecimalField(_("recommended limit"), **MONEY, null=True, blank=True)
    legal_events = models.PositiveIntegerField(_("legal events"), default=0)
    raw_data = models.JSONField(_("raw data"), default=dict, blank=True)
    file = models.FileField(_("attached file"), upload_to="credit_reports/%Y/%m/", blank=True)

    class Meta:
        ordering = ["-report_date"]
        verbose_name = _("credit report")
        verbose_name_plural = _("credit reports")
        constraints = [
            models.UniqueConstraint(fields=["customer", "provider", "report_date"], name="report_unique_per_day"),
            models.CheckConstraint(condition=Q(pd__isnull=True) | (Q(pd__gte=0) & Q(pd__lte=1)),
                                   name="report_pd_is_probability"),
        ]
        indexes = [models.Index(fields=["customer", "report_date"], name="report_customer_date_idx")]

    def __str__(self) -> str:
        return f"{self.provider} {self.report_date}"


class Document(TimeStampedModel):
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="documents")
    title = models.CharField(_("title"), max_length=200)
    file = models.FileField(_("file"), upload_to="documents/%Y/%m/")
    content_type = models.CharField(_("content type"), max_length=100)
    size = models.PositiveBigIntegerField(_("size"))
    sha256 = models.CharField(max_length=64)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL,
                                    related_name="+")

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.CheckConstraint(condition=Q(size__gte=0), name="document_size_not_negative")]
        verbose_name = _("document")
        verbose_name_plural = _("documents")

    def __str__(self) -> str:
        return self.title


class OutcomeFlag(TimeStampedModel):
    """An imported default outcome used to train PD models with --labels imported."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="outcomes")
    observation_date = models.DateField(_("observation date"))
    defaulted = models.BooleanField(_("defaulted"))

    class Meta:
        ordering = ["-observation_date"]
        verbose_name = _("outcome")
        verbose_name_plural = _("outcomes")
        constraints = [
            models.UniqueConstraint(fields=["customer", "observation_date"], name="outcome_unique_per_date"),
        ]
