"""The /imports/ page: upload a file, see every bad row of a dry run, commit without re-uploading,
download a template per kind, and the list of recent imports (from the audit trail)."""

from __future__ import annotations

import codecs
import hashlib
import re
import time
from pathlib import Path

from django import forms
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from creditrisk.core.decorators import permission_or_403, section_required
from creditrisk.core.models import AuditEvent
from customers.importers import KINDS, ImportFileError, import_file, template_csv, template_xlsx
from customers.importers.reading import OLE_MAGIC, XLSX_MAGIC

KIND_LABELS = {
    "customers": gettext_lazy("Customers"),
    "invoices": gettext_lazy("Invoices"),
    "payments": gettext_lazy("Payments"),
    "orders": gettext_lazy("Sales orders"),
    "financials": gettext_lazy("Financial statements"),
    "credit_reports": gettext_lazy("Credit reports"),
    "outcomes": gettext_lazy("Default outcomes"),
}
EXTENSIONS = (".csv", ".txt", ".xlsx")
STAGED_TTL_SECONDS = 24 * 3600
_SHA256 = re.compile(r"[0-9a-f]{64}")


def _may_create_attributes(user) -> bool:
    return user.has_perm("core.manage_settings")


def _check_encoding(value: str) -> str:
    value = (value or "").strip()
    if value:
        try:
            codecs.lookup(value)
        except LookupError:
            raise forms.ValidationError(_("Unknown text encoding.")) from None
    return value


class ImportForm(forms.Form):
    kind = forms.ChoiceField(label=gettext_lazy("What the file contains"), choices=list(KIND_LABELS.items()))
    file = forms.FileField(label=gettext_lazy("File (CSV or Excel .xlsx)"))
    dry_run = forms.BooleanField(label=gettext_lazy("Dry run: check every row, write nothing"), required=False,
                                 initial=True)
    create_attributes = forms.BooleanField(
        label=gettext_lazy("Create custom attributes for unknown customer columns"), required=False)
    encoding = forms.CharField(label=gettext_lazy("Text encoding (leave empty to detect)"), required=False,
                               max_length=40)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        if not _may_create_attributes(user):
            del self.fields["create_attributes"]

    def clean_encoding(self) -> str:
        return _check_encoding(self.cleaned_data.get("encoding", ""))

    def clean_file(self):
        upload = self.cleaned_data["file"]
        limit = settings.CREDITRISK_MAX_UPLOAD_BYTES
        if upload.size > limit:
            raise forms.ValidationError(_("The file is larger than %(mb)d MB.") % {"mb": limit // (1024 * 1024)})
        name = upload.name or ""
        if not name.lower().endswith(EXTENSIONS):
            raise forms.ValidationError(_("Upload a .csv, .txt or .xlsx file."))
        upload.seek(0)
        head = upload.read(8)
        upload.seek(0)
        if name.lower().endswith(".xlsx") and not head.startswith(XLSX_MAGIC):
            raise forms.ValidationError(_("This is not an Excel .xlsx file."))
        if not name.lower().endswith(".xlsx") and head.startswith((XLSX_MAGIC, OLE_MAGIC)):
            raise forms.ValidationError(_("This is a spreadsheet, not a CSV file; name it .xlsx or save it as CSV."))
        return upload


def _staging_dir(user) -> Path:
    path = Path(settings.MEDIA_ROOT) / "imports" / str(int(user.pk))
    path.mkdir(parents=True, exist_ok=True)
    return path


def _purge_stale(directory: Path) -> None:
    cutoff = time.time() - STAGED_TTL_SECONDS
    for item in directory.iterdir():
        try:
            if item.is_file() and item.stat().st_mtime < cutoff:
                item.unlink()
        except OSError:
            pass


def _stage(upload, user) -> tuple[Path, str]:
    """Keep the upload under MEDIA_ROOT/imports/<user id>/<sha256><ext> so a commit needs no re-upload."""
    directory = _staging_dir(user)
    _purge_stale(directory)
    extension = ".xlsx" if upload.name.lower().endswith(".xlsx") else ".csv"
    digest = hashlib.sha256()
    partial = directory / f"upload-{time.monotonic_ns()}.part"
    with partial.open("wb") as handle:
        for chunk in upload.chunks():
            digest.update(chunk)
            handle.write(chunk)
    sha256 = digest.hexdigest()
    target = directory / f"{sha256}{extension}"
    partial.replace(target)
    return target, sha256


def _staged(user, sha256: str) -> Path | None:
    if not _SHA256.fullmatch(sha256 or ""):
        return None
    for extension in (".csv", ".xlsx"):
        path = _staging_dir(user) / f"{sha256}{extension}"
        if path.is_file():
            return path
    return None


def _recent_imports():
    return (AuditEvent.objects.filter(action__startswith="import.").order_by("-seq")
            .only("seq", "created_at", "actor_label", "action", "subject_label", "after", "reason")[:15])


def _context(request, **extra) -> dict:
    context = {
        "title": _("Imports"),
        "kinds": [(kind, KIND_LABELS[kind]) for kind in KINDS],
        "recent": _recent_imports(),
        "max_mb": settings.CREDITRISK_MAX_UPLOAD_BYTES // (1024 * 1024),
        "may_create_attributes": _may_create_attributes(request.user),
    }
    context.update(extra)
    return context


COUNT_LABELS = {
    "created": gettext_lazy("Created"),
    "updated": gettext_lazy("Updated"),
    "unchanged": gettext_lazy("Unchanged"),
    "allocations": gettext_lazy("Payment allocations"),
    "unallocated_payments": gettext_lazy("Payments not fully allocated"),
    "groups_created": gettext_lazy("Groups created"),
    "attributes_created": gettext_lazy("Attributes created"),
}


def _render(request, context: dict, status: int = 200):
    result = context.get("result")
    if result is not None:
        context["result_counts"] = [(COUNT_LABELS.get(name, name), value) for name, value in result.counts.items()]
        context["result_kind"] = KIND_LABELS.get(result.kind, result.kind)
    if not request.htmx:
        return render(request, "customers/imports.html", _context(request, **context), status=status)
    # htmx only swaps 2xx responses; the panel carries the error. After a POST (a dry run or a commit
    # adds to the audit trail) the "Recent imports" card comes along as an out-of-band swap.
    context = _context(request, **context)
    response = render(request, "customers/imports.html#panel", context)
    if request.method == "POST":
        response.content += render_to_string("customers/imports.html#recent", {**context, "oob": True},
                                             request=request).encode(response.charset)
    return response


def _run(request, *, path: Path, kind: str, file_name: str, dry_run: bool, create_attributes: bool,
         encoding: str):
    try:
        result = import_file(kind=kind, path=path, file_name=file_name, dry_run=dry_run, encoding=encoding or None,
                             create_attributes=create_attributes, actor=request.user)
    except ImportFileError as exc:
        path.unlink(missing_ok=True)
        return None, exc.message
    if result.committed or not result.ok:
        path.unlink(missing_ok=True)  # only a clean dry run stays staged, waiting for its commit
    return result, ""


@section_required("imports")
@require_http_methods(["GET", "POST"])
def imports(request):
    permission_or_403(request.user, "core.run_import")
    if request.method != "POST":
        return _render(request, {"form": ImportForm(user=request.user)})
    form = ImportForm(request.POST, request.FILES, user=request.user)
    if not form.is_valid():
        return _render(request, {"form": form}, status=400)
    data = form.cleaned_data
    path, sha256 = _stage(data["file"], request.user)
    result, file_error = _run(request, path=path, kind=data["kind"], file_name=data["file"].name[:200],
                              dry_run=data["dry_run"], create_attributes=data.get("create_attributes", False),
                              encoding=data["encoding"])
    return _render(request, {"form": ImportForm(user=request.user, initial={"kind": data["kind"]}),
                             "result": result, "file_error": file_error, "file_name": data["file"].name,
                             "encoding": data["encoding"], "sha256": sha256,
                             "create_attributes": data.get("create_attributes", False)})


@section_required("imports")
@require_POST
def imports_commit(request):
    """Commit a file that passed its dry run, from the staged copy (the uploader's own)."""
    permission_or_403(request.user, "core.run_import")
    kind = request.POST.get("kind", "")
    create_attributes = request.POST.get("create_attributes") == "1"
    if kind not in KINDS:
        raise Http404
    if create_attributes and not _may_create_attributes(request.user):
        raise PermissionDenied
    try:
        encoding = _check_encoding(request.POST.get("encoding", ""))
    except forms.ValidationError:
        encoding = ""
    file_name = (request.POST.get("file_name") or "upload")[:200]
    form = ImportForm(user=request.user, initial={"kind": kind})
    path = _staged(request.user, request.POST.get("sha256", ""))
    if path is None:
        return _render(request, {"form": form, "file_error": _(
            "The checked file is no longer available; upload it again.")}, status=400)
    result, file_error = _run(request, path=path, kind=kind, file_name=file_name, dry_run=False,
                              create_attributes=create_attributes, encoding=encoding)
    return _render(request, {"form": form, "result": result, "file_error": file_error, "file_name": file_name,
                             "encoding": encoding, "create_attributes": create_attributes, "sha256": path.stem})


@section_required("imports")
@require_GET
def imports_template(request, kind: str):
    if kind not in KINDS:
        raise Http404
    if request.GET.get("format") == "xlsx":
        response = HttpResponse(template_xlsx(kind), content_type=(
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))
        response["Content-Disposition"] = f'attachment; filename="{kind}-template.xlsx"'
        return response
    response = HttpResponse(template_csv(kind), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{kind}-template.csv"'
    return response
