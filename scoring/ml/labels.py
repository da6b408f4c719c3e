"""Default labels derived from invoice history, for monthly observation dates.

Definitions (documented on the model page and in the README):

* An invoice **defaults** on the earlier of
  - ``due_date + 90 days`` when it was not fully settled by then (``paid_date`` missing or later), and
  - its ``written_off_date``.
* A customer is **bad** at observation date ``obs`` when one of its invoices defaults within the
  outcome window ``(obs, obs + 12 months]``.
* A customer **already in default** at ``obs`` is excluded from that observation: some invoice
  defaulted on or before ``obs`` and is not cured by ``obs`` (cured = settled; a written-off invoice
  counts as uncured for 12 months after the write-off).
* The population at ``obs`` are customers with an invoice issued in the 12 months up to ``obs`` or an
  invoice still open at ``obs``; customers with no history at ``obs`` have nothing to score.
* An observation date is only usable when its whole outcome window lies in the past (``as_of``).
* An invoice marked paid without a settlement date counts as paid on its due date (no evidence of
  lateness); cancelled invoices are ignored.

Everything is vectorised over invoices; the only loop is over observation dates (tens, not rows).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import numpy as np
import pandas as pd

DPD_DAYS = 90
HORIZON_MONTHS = 12
LOOKBACK_MONTHS = 12
WRITE_OFF_COOL_OFF_MONTHS = 12

LABEL_COLUMNS = ["customer_id", "observation_date", "defaulted"]


def monthly_observation_dates(first: dt.date | pd.Timestamp, last: dt.date | pd.Timestamp) -> list[pd.Timestamp]:
    """Month ends from ``first`` to ``last`` (both inclusive when they are month ends)."""
    first, last = pd.Timestamp(first), pd.Timestamp(last)
    if first > last:
        return []
    return list(pd.date_range(first, last, freq="ME"))


def _dates(frame: pd.DataFrame, column: str) -> pd.Series:
    if column not in frame:
        return pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns]")
    return pd.to_datetime(frame[column], errors="coerce").astype("datetime64[ns]")


def prepare_invoices(invoices: pd.DataFrame) -> pd.DataFrame:
    """Normalise an invoice frame and add each invoice's default and cure dates.

    Required columns: ``customer_id``, ``issue_date``, ``due_date``; optional ``paid_date``,
    ``written_off_date`` and ``status`` (cancelled invoices are dropped).
    """
    missing = {"customer_id", "issue_date", "due_date"} - set(invoices.columns)
    if missing:
        raise ValueError(f"invoice frame lacks columns: {sorted(missing)}")
    inv = invoices
    if "status" in inv:
        inv = inv[inv["status"].astype(str) != "cancelled"]
    out = pd.DataFrame({
        "customer_id": inv["customer_id"].to_numpy(),
        "issue_date": _dates(inv, "issue_date").to_numpy(),
        "due_date": _dates(inv, "due_date").to_numpy(),
        "paid_date": _dates(inv, "paid_date").to_numpy(),
        "written_off_date": _dates(inv, "written_off_date").to_numpy(),
    })
    if "status" in inv:
        # Settled per the ERP but with no settlement date (e.g. imported as "paid"): no evidence it was late.
        settled_undated = (inv["status"].astype(str).to_numpy() == "paid") & out["paid_date"].isna().to_numpy()
        out.loc[settled_undated, "paid_date"] = out.loc[settled_undated, "due_date"]
    dpd_date = out["due_date"] + pd.Timedelta(days=DPD_DAYS)
    unpaid_at_dpd = out["paid_date"].isna() | (out["paid_date"] > dpd_date)
    # An invoice written off before it was settled defaults on the write-off date (if that comes first).
    written_off = out["written_off_date"].where(
        out["paid_date"].isna() | (out["written_off_date"] < out["paid_date"]))
    out["default_date"] = pd.concat([dpd_date.where(unpaid_at_dpd), written_off], axis=1).min(axis=1)
    cool_off_end = written_off + pd.DateOffset(months=WRITE_OFF_COOL_OFF_MONTHS)
    # Cured when settled; a write-off stays a default for the cool-off period; never cured = NaT.
    out["cure_date"] = out["paid_date"].where(written_off.isna(), cool_off_end)
    return out


def derive_labels(
    invoices: pd.DataFrame,
    observation_dates: Iterable[dt.date | pd.Timestamp],
    *,
    as_of: dt.date | pd.Timestamp | None = None,
    horizon_months: int = HORIZON_MONTHS,
) -> pd.DataFrame:
    """One row per (customer, observation date) in the population: ``defaulted`` is 1 or 0.

    Observation dates whose outcome window ends after ``as_of`` are skipped (labels would be
    incomplete). Returns columns ``customer_id``, ``observation_date`` (Timestamp), ``defaulted``.
    """
    inv = prepare_invoices(invoices)
    horizon = pd.DateOffset(months=horizon_months)
    lookback = pd.DateOffset(months=LOOKBACK_MONTHS)
    dates = sorted({pd.Timestamp(d).normalize() for d in observation_dates})
    if as_of is not None:
        dates = [d for d in dates if d + horizon <= pd.Timestamp(as_of)]

    customer = inv["customer_id"].to_numpy()
    issue = inv["issue_date"].to_numpy()
    settled = inv["paid_date"].to_numpy()
    written_off = inv["written_off_date"].to_numpy()
    default = inv["default_date"].to_numpy()
    cure = inv["cure_date"].to_numpy()
    has_default = ~np.isnat(default)

    frames = []
    for obs in dates:
        obs64 = np.datetime64(obs, "ns")
        end64 = np.datetime64(obs + horizon, "ns")
        start64 = np.datetime64(obs - lookback, "ns")
        issued = issue <= obs64
        open_at_obs = (issued & (np.isnat(settled) | (settled > obs64))
                       & (np.isnat(written_off) | (written_off > obs64)))
        active = issued & ((issue > start64) | open_at_obs)
        in_default = has_default & (default <= obs64) & (np.isnat(cure) | (cure > obs64))
        bad = has_default & (default > obs64) & (default <= end64)

        population = np.setdiff1d(np.unique(customer[active]), np.unique(customer[in_default]))
        if population.size == 0:
            continue
        bad_customers = np.unique(customer[bad])
        frames.append(pd.DataFrame({
            "customer_id": population,
            "observation_date": obs,
            "defaulted": np.isin(population, bad_customers).astype(np.int8),
        }))
    if not frames:
        return pd.DataFrame({"customer_id": pd.Series(dtype=inv["customer_id"].dtype),
                             "observation_date": pd.Series(dtype="datetime64[ns]"),
                             "defaulted": pd.Series(dtype=np.int8)})
    return pd.concat(frames, ignore_index=True)
