"""factory_boy factories for the credit file (other apps' tests import these)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import factory
from factory.django import DjangoModelFactory

from customers.models import (
    AttributeDefinition,
    AttributeType,
    Contact,
    CreditReport,
    Customer,
    CustomerGroup,
    FinancialStatement,
    Invoice,
    InvoiceStatus,
    Payment,
    PaymentAllocation,
    SalesOrder,
)

# USCCs with valid check digits (real, public registrations).
VALID_USCCS = ["91350100M000100Y43", "91110000802100433B", "9144030071526726XG"]


class CustomerGroupFactory(DjangoModelFactory):
    class Meta:
        model = CustomerGroup
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"G{n:05d}")
    name = factory.Sequence(lambda n: f"Group {n}")
    country = "CN"


class CustomerFactory(DjangoModelFactory):
    class Meta:
        model = Customer
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"C{n:06d}")
    name = factory.Sequence(lambda n: f"Customer {n} Ltd")
    registration_no = ""
    country = "CN"
    region = "East"
    industry = "Manufacturing"
    size = "medium"
    status = "active"
    currency = "CNY"
    relationship_start = dt.date(2020, 1, 1)
    attributes = factory.LazyFunction(dict)


class ContactFactory(DjangoModelFactory):
    class Meta:
        model = Contact

    customer = factory.SubFactory(CustomerFactory)
    name = factory.Sequence(lambda n: f"Contact {n}")
    role = "CFO"
    email = factory.Sequence(lambda n: f"contact{n}@example.com")


class AttributeDefinitionFactory(DjangoModelFactory):
    class Meta:
        model = AttributeDefinition
        django_get_or_create = ("key",)

    key = factory.Sequence(lambda n: f"attr_{n}")
    label = factory.Sequence(lambda n: f"Attribute {n}")
    type = AttributeType.TEXT


class InvoiceFactory(DjangoModelFactory):
    """An open invoice (amount_paid 0). Use PaymentFactory + allocations + invoice_paid_recompute to pay it."""

    class Meta:
        model = Invoice

    customer = factory.SubFactory(CustomerFactory)
    number = factory.Sequence(lambda n: f"INV-{n:07d}")
    issue_date = dt.date(2026, 1, 1)
    due_date = factory.LazyAttribute(lambda o: o.issue_date + dt.timedelta(days=30))
    amount = Decimal("1000.00")
    currency = factory.LazyAttribute(lambda o: o.customer.currency)
    amount_paid = Decimal("0")
    status = InvoiceStatus.OPEN


class PaymentFactory(DjangoModelFactory):
    """A payment row with no allocation (use customers.services.payment_create for FIFO allocation)."""

    class Meta:
        model = Payment

    customer = factory.SubFactory(CustomerFactory)
    reference = factory.Sequence(lambda n: f"PAY-{n:07d}")
    date = dt.date(2026, 2, 1)
    amount = Decimal("1000.00")
    currency = factory.LazyAttribute(lambda o: o.customer.currency)


class PaymentAllocationFactory(DjangoModelFactory):
    class Meta:
        model = PaymentAllocation

    payment = factory.SubFactory(PaymentFactory)
    invoice = factory.SubFactory(InvoiceFactory)
    amount = factory.LazyAttribute(lambda o: o.invoice.amount)


class SalesOrderFactory(DjangoModelFactory):
    class Meta:
        model = SalesOrder

    customer = factory.SubFactory(CustomerFactory)
    number = factory.Sequence(lambda n: f"SO-{n:07d}")
    order_date = dt.date(2026, 1, 15)
    amount = Decimal("5000.00")
    currency = factory.LazyAttribute(lambda o: o.customer.currency)
    status = "open"


class FinancialStatementFactory(DjangoModelFactory):
    """A balanced annual statement: total_assets == total_liabilities + equity."""

    class Meta:
        model = FinancialStatement

    customer = factory.SubFactory(CustomerFactory)
    period_end = dt.date(2025, 12, 31)
    period_type = "annual"
    audited = True
    source = "audited accounts"
    currency = "CNY"
    revenue = Decimal("12000000.00")
    cogs = Decimal("9000000.00")
    ebit = Decimal("900000.00")
    net_income = Decimal("600000.00")
    interest_expense = Decimal("150000.00")
    total_assets = Decimal("10000000.00")
    current_assets = Decimal("5000000.00")
    cash = Decimal("800000.00")
    inventory = Decimal("1500000.00")
    receivables = Decimal("2000000.00")
    total_liabilities = Decimal("6000000.00")
    current_liabilities = Decimal("3500000.00")
    retained_earnings = Decimal("2000000.00")
    equity = factory.LazyAttribute(lambda o: o.total_assets - o.total_liabilities)
    operating_cash_flow = Decimal("1000000.00")


class CreditReportFactory(DjangoModelFactory):
    class Meta:
        model = CreditReport

    customer = factory.SubFactory(CustomerFactory)
    provider = "manual"
    report_date = dt.date(2026, 1, 10)
    score = Decimal("72.00")
    rating = "BB"
    pd = Decimal("0.020000")
    payment_index = Decimal("80.00")
    recommended_limit = Decimal("500000.00")
    legal_events = 0
    raw_data = factory.LazyFunction(dict)
