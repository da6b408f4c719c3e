"""Navigation for the page shell: the sections the user's roles may open."""

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from creditrisk.core.roles import can_open

# (section key in roles.SECTION_ROLES, url name, label)
SECTIONS = [
    ("dashboard", "dashboard", _("Dashboard")),
    ("customers", "customers:list", _("Customers")),
    ("alerts", "alerts", _("Alerts")),
    ("reviews", "reviews", _("Reviews")),
    ("limits", "limits", _("Limits")),
    ("held_orders", "held_orders", _("Held orders")),
    ("scoring", "scoring:index", _("Scoring")),
    ("imports", "imports", _("Imports")),
    ("jobs", "jobs", _("Jobs")),
    ("audit", "audit", _("Audit")),
    ("settings", "settings", _("Settings")),
]


# Pages that live under another section's URL but belong to a section the user thinks of (the credit file's
# Score tab is served by scoring).
SECTION_ALIASES = (("/scoring/customers/", "customers"),)


def navigation(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_sections": []}
    path = request.path
    alias = next((key for prefix, key in SECTION_ALIASES if path.startswith(prefix)), None)
    sections = []
    for key, name, label in SECTIONS:
        if not can_open(user, key):
            continue
        url = reverse(name)
        active = key == alias if alias else path.startswith(url)
        sections.append({"key": key, "url": url, "label": label, "active": active})
    return {"nav_sections": sections}
