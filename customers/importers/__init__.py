"""CSV/XLSX imports of the credit file (customers, invoices, payments, orders, financials, credit
reports, outcomes): streaming validation, all-or-nothing commit, idempotent upsert on natural keys.

Cell values are parsed by customers.parsing, which customers.attributes uses too.
"""

from __future__ import annotations

from customers.importers.columns import KINDS, SPECS
from customers.importers.engine import errors_as_dict, import_file, validate_rows
from customers.importers.errors import RowError
from customers.importers.reading import ImportFileError
from customers.importers.templates import template_csv, template_xlsx

__all__ = ["KINDS", "SPECS", "ImportFileError", "RowError", "errors_as_dict", "import_file", "template_csv",
           "template_xlsx", "validate_rows"]
