"""Audit actions in words: ``{{ event.action|action_label }}`` → "Contact created"."""

from __future__ import annotations

from django import template
from django.utils.translation import pgettext_lazy

register = template.Library()

SUBJECTS = {
    "attribute_definition": pgettext_lazy("audit", "Custom attribute"),
    "contact": pgettext_lazy("audit", "Contact"),
    "credit_report": pgettext_lazy("audit", "Credit report"),
    "customer": pgettext_lazy("audit", "Customer"),
    "customer_group": pgettext_lazy("audit", "Customer group"),
    "demo": pgettext_lazy("audit", "Demo data"),
    "document": pgettext_lazy("audit", "Document"),
    "financial_statement": pgettext_lazy("audit", "Financial statement"),
    "import": pgettext_lazy("audit", "Import"),
    "invoice": pgettext_lazy("audit", "Invoice"),
    "masterscale": pgettext_lazy("audit", "Master scale"),
    "model": pgettext_lazy("audit", "PD model"),
    "payment": pgettext_lazy("audit", "Payment"),
    "sales_order": pgettext_lazy("audit", "Sales order"),
    "schedule": pgettext_lazy("audit", "Schedule"),
    "score_override": pgettext_lazy("audit", "Grade override"),
    "scorecard": pgettext_lazy("audit", "Scorecard"),
    "scoring": pgettext_lazy("audit", "Scoring"),
    "system": pgettext_lazy("audit", "System"),
    "user": pgettext_lazy("audit", "User"),
}
VERBS = {
    "activate": pgettext_lazy("audit", "activated"),
    "approve": pgettext_lazy("audit", "approved"),
    "bulk_upsert": pgettext_lazy("audit", "synchronised in bulk"),
    "create": pgettext_lazy("audit", "created"),
    "delete": pgettext_lazy("audit", "deleted"),
    "demote": pgettext_lazy("audit", "demoted"),
    "factor_remove": pgettext_lazy("audit", "factor removed"),
    "factor_update": pgettext_lazy("audit", "factor changed"),
    "ping": pgettext_lazy("audit", "checked"),
    "promote": pgettext_lazy("audit", "promoted"),
    "propose": pgettext_lazy("audit", "proposed"),
    "reject": pgettext_lazy("audit", "rejected"),
    "retire": pgettext_lazy("audit", "retired"),
    "run": pgettext_lazy("audit", "run"),
    "run_now": pgettext_lazy("audit", "started now"),
    "seed": pgettext_lazy("audit", "generated"),
    "status": pgettext_lazy("audit", "status changed"),
    "train": pgettext_lazy("audit", "trained"),
    "update": pgettext_lazy("audit", "changed"),
    "upload": pgettext_lazy("audit", "uploaded"),
}


@register.filter
def action_label(action: str) -> str:
    subject, _sep, verb = (action or "").partition(".")
    if subject == "import":
        return pgettext_lazy("audit", "Import of %(kind)s") % {"kind": verb.replace("_", " ")}
    if subject in SUBJECTS and verb in VERBS:
        return pgettext_lazy("audit", "%(subject)s %(verb)s") % {"subject": SUBJECTS[subject], "verb": VERBS[verb]}
    return action
