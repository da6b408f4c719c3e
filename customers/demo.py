"""The demo portfolio behind ``seed_demo``: a deterministic, realistic credit portfolio built in bulk.

Every customer carries a hidden risk (a latent factor from industry, size, group and chance) that drives
how late it pays, how its balance sheet looks, what the bureau says and whether it defaults, so a PD
model trained on the result finds a real signal. Data is generated with numpy in chunks of customers
and written set-based: binary ``COPY`` on PostgreSQL, ``executemany`` on SQLite; memory stays bounded
by the chunk size. The whole load is one transaction with one audit event.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import math
import queue
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np
from django.contrib.auth import get_user_model
from django.db import connection, models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from creditrisk.core.audit import audit_record
from creditrisk.core.exceptions import DomainError
from customers.models import (
    Contact,
    CreditReport,
    Customer,
    CustomerGroup,
    FinancialStatement,
    Industry,
    Invoice,
    Payment,
    PaymentAllocation,
    SalesOrder,
)
from customers.validators import USCC_CHARSET, org_code_check_char, uscc_check_char

CHUNK_CUSTOMERS = 25_000
MAX_CUSTOMERS = 9_999_999  # customer codes are C + 7 digits
BULK_MODE_MIN_CUSTOMERS = 20_000  # on PostgreSQL, above this the big tables' indexes are rebuilt after the load

# --------------------------------------------------------------------------------------------------
# reference data

# (code, English name, Chinese name, risk offset, share of customers); codes follow GB/T 4754-2017.
INDUSTRIES = [
    ("C13", "Agri-food processing", "农副食品加工业", 0.05, 6),
    ("C26", "Chemicals", "化学原料和化学制品制造业", 0.10, 7),
    ("C27", "Pharmaceuticals", "医药制造业", -0.30, 5),
    ("C30", "Building materials", "非金属矿物制品业", 0.25, 5),
    ("C31", "Steel", "黑色金属冶炼和压延加工业", 0.30, 4),
    ("C34", "General machinery", "通用设备制造业", -0.05, 8),
    ("C36", "Automotive", "汽车制造业", 0.05, 7),
    ("C38", "Electrical equipment", "电气机械和器材制造业", -0.10, 9),
    ("C39", "Electronics", "计算机、通信和其他电子设备制造业", -0.15, 11),
    ("E47", "Construction", "房屋建筑业", 0.60, 6),
    ("F51", "Wholesale trade", "批发业", 0.15, 12),
    ("F52", "Retail trade", "零售业", 0.20, 6),
    ("G54", "Road transport", "道路运输业", 0.20, 4),
    ("I65", "Software and IT services", "软件和信息技术服务业", -0.25, 6),
    ("K70", "Real estate", "房地产业", 0.80, 4),
]
_INDUSTRY_WORD_ZH = ["食品", "化工", "医药", "建材", "钢铁", "机械", "汽车配件", "电气", "电子", "建设",
                     "贸易", "商贸", "物流", "科技", "置业"]
_INDUSTRY_WORD_EN = ["Foods", "Chemicals", "Pharma", "Materials", "Steel", "Machinery", "Auto Parts",
                     "Electric", "Electronics", "Construction", "Trading", "Retail", "Logistics", "Software",
                     "Properties"]

# (province, [(city, six-digit administrative division code)], weight)
PROVINCES = [
    ("广东省", [("广州市", "440100"), ("深圳市", "440300"), ("佛山市", "440600"), ("东莞市", "441900")], 16),
    ("江苏省", [("南京市", "320100"), ("苏州市", "320500"), ("无锡市", "320200"), ("常州市", "320400")], 14),
    ("浙江省", [("杭州市", "330100"), ("宁波市", "330200"), ("温州市", "330300"), ("嘉兴市", "330400")], 12),
    ("上海市", [("上海市", "310100")], 9),
    ("北京市", [("北京市", "110100")], 7),
    ("山东省", [("济南市", "370100"), ("青岛市", "370200"), ("烟台市", "370600")], 9),
    ("福建省", [("福州市", "350100"), ("厦门市", "350200"), ("泉州市", "350500")], 6),
    ("天津市", [("天津市", "120100")], 3),
    ("四川省", [("成都市", "510100"), ("绵阳市", "510700")], 5),
    ("湖北省", [("武汉市", "420100"), ("宜昌市", "420500")], 4),
    ("河南省", [("郑州市", "410100"), ("洛阳市", "410300")], 4),
    ("湖南省", [("长沙市", "430100")], 3),
    ("安徽省", [("合肥市", "340100"), ("芜湖市", "340200")], 3),
    ("重庆市", [("重庆市", "500100")], 3),
    ("辽宁省", [("沈阳市", "210100"), ("大连市", "210200")], 2),
]
# (country, region, currency, CNY per unit, legal suffix, weight)
FOREIGN = [
    ("US", "California", "USD", 7.10, "Inc.", 3),
    ("DE", "Bavaria", "EUR", 7.70, "GmbH", 2),
    ("JP", "Osaka", "JPY", 0.048, "K.K.", 2),
    ("SG", "Singapore", "SGD", 5.30, "Pte. Ltd.", 2),
    ("KR", "Gyeonggi", "KRW", 0.0052, "Co., Ltd.", 1),
    ("GB", "England", "GBP", 9.00, "Ltd", 1),
    ("HK", "Hong Kong", "HKD", 0.91, "Limited", 2),
    ("VN", "Ho Chi Minh City", "VND", 0.00028, "Co., Ltd.", 1),
]
_BRANDS = list("华达兴盛鑫宏泰通恒永安隆丰瑞祥德源鸿昌利富海天金亿辉腾飞远航新创明光中科信诚嘉和美")
_BRANDS_EN = ["Apex", "Brightway", "Cedar", "Delta", "Evergreen", "Falcon", "Granite", "Harbor", "Ionic",
              "Juniper", "Keystone", "Lumen", "Meridian", "Northstar", "Orion", "Pioneer", "Quantum", "Redwood",
              "Summit", "Titan", "Unity", "Vertex", "Westbrook", "Zenith"]
_SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈")
_GIVEN = list("伟芳娜敏静丽强磊军洋勇艳杰涛明超秀霞平刚桂英华玉萍红娥玲芬燕彬鹏辉宇浩然子轩梓涵欣怡晨阳")
_GIVEN_EN = ["Anna", "Ben", "Carla", "David", "Emma", "Felix", "Grace", "Hiro", "Ines", "Jonas", "Kim", "Lena",
             "Marco", "Nina", "Oliver", "Priya", "Sam", "Tom", "Yuki", "Zoe"]
_SURNAMES_EN = ["Smith", "Müller", "Tanaka", "Tan", "Kim", "Brown", "Schmidt", "Sato", "Nguyen", "Wong", "Lee",
                "Taylor", "Weber", "Suzuki"]
_RATINGS = [(85, "AAA"), (78, "AA"), (70, "A"), (62, "BBB"), (54, "BB"), (45, "B"), (35, "CCC"), (25, "CC"),
            (0, "C")]
SIZES = np.array(["small", "medium", "large"])
_SIZE_SHARE = [0.6, 0.3, 0.1]
_SIZE_VOLUME = np.array([0.7, 1.2, 2.2])  # invoices per customer relative to the mean (weighted mean 1)
_SIZE_RISK = np.array([0.25, 0.0, -0.35])
_SIZE_INVOICE_CNY = np.array([18_000.0, 90_000.0, 450_000.0])  # median invoice
_SIZE_REVENUE_CNY = np.array([8e6, 8e7, 9e8])
_TERMS = np.array([30, 45, 60, 90])
_TERMS_BY_SIZE = np.array([[0.55, 0.25, 0.15, 0.05], [0.35, 0.30, 0.25, 0.10], [0.20, 0.25, 0.35, 0.20]])
INVOICES_PER_CUSTOMER = 30

EPOCH_2000 = 10957  # 2000-01-01 in days since 1970-01-01 (PostgreSQL's binary epoch)


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _days(day: dt.date) -> int:
    return (day - dt.date(1970, 1, 1)).days


# --------------------------------------------------------------------------------------------------
# fixed-width ASCII columns built without a Python loop

def _digits(values: np.ndarray, width: int) -> np.ndarray:
    """(n, width) uint8 ASCII digits of non-negative integers, zero-padded."""
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    return ((values.astype(np.int64)[:, None] // powers) % 10 + 48).astype(np.uint8)


def _ascii(*parts) -> np.ndarray:
    """Concatenate byte literals and (n, w) uint8 blocks into one fixed-width 'S' array."""
    n = next(p.shape[0] for p in parts if isinstance(p, np.ndarray))
    blocks = [np.broadcast_to(np.frombuffer(p, np.uint8), (n, len(p))) if isinstance(p, bytes) else p for p in parts]
    joined = np.ascontiguousarray(np.concatenate(blocks, axis=1))
    return joined.view(f"S{joined.shape[1]}").ravel()


# --------------------------------------------------------------------------------------------------
# USCC (GB 32100-2015), vectorised; spot-checked against the validators' reference functions

_ORG_CHARSET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_USCC_W = np.array([pow(3, i, 31) for i in range(17)], dtype=np.int64)
_ORG_W = np.array([3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
_USCC_VALUE = np.full(256, -1, dtype=np.int64)
for _i, _ch in enumerate(USCC_CHARSET):
    _USCC_VALUE[ord(_ch)] = _i
_ORG_VALUE = np.full(256, -1, dtype=np.int64)
for _i, _ch in enumerate(_ORG_CHARSET):
    _ORG_VALUE[ord(_ch)] = _i
_USCC_BYTES = np.frombuffer(USCC_CHARSET.encode(), np.uint8)
_ORG_BODY_BYTES = np.frombuffer(b"0123456789ABCDEFGHJKLMNPQRTUWXY", np.uint8)  # legal in both charsets


def _uscc(rng: np.random.Generator, division: np.ndarray) -> np.ndarray:
    """Valid 18-character codes: 9 1 <division code> <8-char organisation code + check> <check>."""
    n = division.shape[0]
    out = np.empty((n, 18), dtype=np.uint8)
    out[:, 0] = ord("9")
    out[:, 1] = ord("1")
    out[:, 2:8] = np.frombuffer(b"".join(division.astype("S6").tolist()), np.uint8).reshape(n, 6)
    body = rng.integers(0, len(_ORG_BODY_BYTES), size=(n, 8))
    body[:, :2] = rng.integers(0, 10, size=(n, 2))  # organisation codes mostly start with digits
    out[:, 8:16] = _ORG_BODY_BYTES[body]
    org_value = 11 - (_ORG_VALUE[out[:, 8:16]] * _ORG_W).sum(axis=1) % 11
    out[:, 16] = np.where(org_value == 11, ord("0"), np.where(org_value == 10, ord("X"), org_value + 48))
    total = (_USCC_VALUE[out[:, :17]] * _USCC_W).sum(axis=1)
    out[:, 17] = _USCC_BYTES[(31 - total % 31) % 31]
    codes = out.view("S18").ravel()
    for code in codes[:: max(1, n // 50)].tolist():  # the reference implementation must agree
        text = code.decode()
        if org_code_check_char(text[8:16]) != text[16] or uscc_check_char(text[:17]) != text[17]:
            raise AssertionError(f"USCC generator disagrees with the validators on {text}")
    return codes


# --------------------------------------------------------------------------------------------------
# table writers


@dataclass
class Rows:
    """Column arrays for one table (keys are column attnames); scalars broadcast to every row.

    Dates are int days since 1970-01-01 with NULL_DAY for NULL, decimals are ints scaled by
    10**decimal_places, text is an 'S' (ASCII) array or an object array of str.
    """

    model: type[models.Model]
    n: int
    columns: dict = field(default_factory=dict)


NULL_DAY = np.iinfo(np.int32).min
NULL_INT = np.iinfo(np.int64).min


def _column_kind(f: models.Field) -> str:
    db_type = (f.db_type(connection) or "").lower()
    if db_type.startswith(("bigint", "bigserial")):
        return "int8"
    if db_type.startswith(("integer", "serial")):
        return "int4"
    if db_type.startswith("smallint"):
        return "int2"
    if db_type.startswith(("varchar", "text", "char")):
        return "text"
    for prefix in ("numeric", "decimal", "timestamp", "datetime", "date", "bool", "jsonb", "double"):
        if db_type.startswith(prefix):
            return {"decimal": "numeric", "double": "float8", "datetime": "timestamp"}.get(prefix, prefix)
    raise NotImplementedError(f"seed_demo cannot write column {f.model.__name__}.{f.name} ({db_type})")


def _fill_defaults(rows: Rows, now: dt.datetime) -> dict:
    """Every concrete column in table order, filling the ones the generator leaves out from defaults."""
    out = {}
    for f in rows.model._meta.concrete_fields:
        if f.attname in rows.columns:
            out[f.attname] = rows.columns[f.attname]
        elif isinstance(f, models.DateTimeField) and (f.auto_now or f.auto_now_add):
            out[f.attname] = now
        elif f.has_default() or f.null or f.empty_strings_allowed:
            out[f.attname] = f.get_default()
        else:
            raise ValueError(f"seed_demo does not fill {rows.model.__name__}.{f.attname}")
    return out


def _text_bytes(values, n) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(flat uint8 bytes, lengths, null mask) of a text column."""
    if isinstance(values, np.ndarray) and values.dtype.kind == "S":
        width = values.dtype.itemsize
        flat = np.ascontiguousarray(values).view(np.uint8)
        return flat, np.full(n, width, dtype=np.int64), np.zeros(n, dtype=bool)
    if values is None or isinstance(values, (str, bytes)):
        values = [values] * n
    encoded = [b"" if v is None else (v if isinstance(v, bytes) else str(v).encode()) for v in values]
    nulls = np.fromiter((v is None for v in values), dtype=bool, count=n)
    lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=n)
    return np.frombuffer(b"".join(encoded), np.uint8), lengths, nulls


def _numeric_bytes(scaled: np.ndarray, max_digits: int, scale: int) -> np.ndarray:
    """PostgreSQL binary numeric, fixed width (unnormalised digits are accepted and stripped by the server)."""
    n = scaled.shape[0]
    int_groups = max(1, math.ceil((max_digits - scale) / 4))
    frac_groups = math.ceil(scale / 4)
    ndigits = int_groups + frac_groups
    absolute = np.abs(scaled).astype(np.int64)
    int_part = absolute // 10**scale
    frac_part = (absolute % 10**scale) * 10 ** (4 * frac_groups - scale)
    digits = np.empty((n, ndigits), dtype=">i2")
    for k in range(int_groups):
        digits[:, k] = (int_part // 10000 ** (int_groups - 1 - k)) % 10000
    for k in range(frac_groups):
        digits[:, int_groups + k] = (frac_part // 10000 ** (frac_groups - 1 - k)) % 10000
    head = np.empty((n, 4), dtype=">u2")
    head[:, 0] = ndigits
    head[:, 1] = int_groups - 1
    head[:, 2] = np.where(scaled < 0, 0x4000, 0)
    head[:, 3] = scale
    return np.concatenate([head.view(np.uint8).reshape(n, 8), digits.view(np.uint8).reshape(n, 2 * ndigits)],
                          axis=1)


def _pg_field(f: models.Field, kind: str, values, n: int, now_us: int):
    """(data as (n, w) uint8 or (flat, lengths), null mask) for one column."""
    scalar = not isinstance(values, np.ndarray)
    if kind == "text":
        flat, lengths, nulls = _text_bytes(values, n)
        if isinstance(values, np.ndarray) and values.dtype.kind == "S":
            return flat.reshape(n, -1), nulls
        return (flat, lengths), nulls
    if kind == "jsonb":
        payload = values if isinstance(values, np.ndarray) else [values] * n
        text = [b"\x01" + json.dumps(v, ensure_ascii=False, separators=(",", ":")).encode() for v in payload]
        lengths = np.fromiter(map(len, text), dtype=np.int64, count=n)
        return (np.frombuffer(b"".join(text), np.uint8), lengths), np.zeros(n, dtype=bool)
    if scalar and values is None:
        return np.zeros((n, 0), dtype=np.uint8), np.ones(n, dtype=bool)
    if kind == "timestamp":
        arr = np.full(n, now_us if isinstance(values, dt.datetime) else values, dtype=">i8")
        return arr.view(np.uint8).reshape(n, 8), np.zeros(n, dtype=bool)
    if kind == "date":
        arr = np.broadcast_to(np.asarray(values if not isinstance(values, dt.date) else _days(values)), (n,))
        nulls = arr == NULL_DAY
        data = (arr.astype(np.int64) - EPOCH_2000).astype(">i4")
        return data.view(np.uint8).reshape(n, 4), nulls
    if kind == "numeric":
        if isinstance(values, Decimal):
            values = int(values.scaleb(f.decimal_places))
        arr = np.broadcast_to(np.asarray(values, dtype=np.int64), (n,))
        return _numeric_bytes(arr, f.max_digits, f.decimal_places), np.zeros(n, dtype=bool)
    dtype = {"int8": ">i8", "int4": ">i4", "int2": ">i2", "bool": "u1", "float8": ">f8"}[kind]
    raw = np.broadcast_to(np.asarray(values), (n,))
    nulls = raw == NULL_INT if raw.dtype.kind == "i" else np.zeros(n, dtype=bool)
    arr = np.where(nulls, 0, raw).astype(dtype)
    return arr.view(np.uint8).reshape(n, arr.dtype.itemsize), nulls


_PG_HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"


def _pg_binary(rows: Rows, columns: dict, now_us: int) -> bytes:
    """Encode rows in PostgreSQL's binary COPY format with vectorised scatters (no per-row Python)."""
    n = rows.n
    fields = {f.attname: f for f in rows.model._meta.concrete_fields}
    encoded = []
    row_len = np.full(n, 2, dtype=np.int64)
    for name, values in columns.items():
        data, nulls = _pg_field(fields[name], _column_kind(fields[name]), values, n, now_us)
        width = np.where(nulls, 0, data[1] if isinstance(data, tuple) else data.shape[1])
        row_len += 4 + width
        encoded.append((data, nulls, width))
    starts = np.empty(n, dtype=np.int64)
    starts[0] = len(_PG_HEADER)
    np.cumsum(row_len[:-1], out=starts[1:])
    starts[1:] += len(_PG_HEADER)
    total = len(_PG_HEADER) + int(row_len.sum()) + 2
    buf = np.empty(total, dtype=np.uint8)
    buf[: len(_PG_HEADER)] = np.frombuffer(_PG_HEADER, np.uint8)
    buf[-2:] = 0xFF
    field_count = np.frombuffer(np.array([len(columns)], dtype=">i2").tobytes(), np.uint8)
    buf[starts[:, None] + np.arange(2)] = field_count
    pos = starts + 2
    for data, nulls, width in encoded:
        length = np.where(nulls, -1, width).astype(">i4").view(np.uint8).reshape(n, 4)
        buf[pos[:, None] + np.arange(4)] = length
        pos += 4
        if isinstance(data, tuple):
            flat, lengths = data
            if flat.size:
                src_start = np.zeros(n, dtype=np.int64)
                np.cumsum(lengths[:-1], out=src_start[1:])
                dest = np.repeat(pos - src_start, lengths) + np.arange(flat.size, dtype=np.int64)
                buf[dest] = flat
        elif data.shape[1]:
            keep = ~nulls
            if keep.all():
                buf[pos[:, None] + np.arange(data.shape[1])] = data
            else:
                buf[pos[keep][:, None] + np.arange(data.shape[1])] = data[keep]
        pos += width
    return buf.tobytes()


def _sqlite_values(f: models.Field, kind: str, values, n: int, now: dt.datetime) -> list:
    if isinstance(values, np.ndarray):
        if kind == "text":
            return [v.decode() if isinstance(v, bytes) else v for v in values.tolist()]
        if kind == "date":
            text = values.astype("datetime64[D]").astype(str).tolist()
            return [None if v == NULL_DAY else t for v, t in zip(values.tolist(), text, strict=True)]
        if kind == "numeric":
            places = f.decimal_places
            return [str(Decimal(v).scaleb(-places)) for v in values.tolist()]
        if kind == "jsonb":
            return [json.dumps(v, ensure_ascii=False) for v in values.tolist()]
        if values.dtype.kind == "i":
            return [None if v == NULL_INT else v for v in values.tolist()]
        return values.tolist()
    if isinstance(values, dt.datetime):
        value = connection.ops.adapt_datetimefield_value(values)
    elif isinstance(values, dt.date):
        value = values.isoformat()
    elif kind == "jsonb" or isinstance(values, (dict, list)):
        value = json.dumps(values, ensure_ascii=False)
    elif isinstance(values, Decimal):
        value = str(values)
    else:
        value = values
    return [value] * n


class _Writer:
    """Writes Rows to the current database connection, and reserves primary keys in bulk."""

    def __init__(self, *, bulk_mode: bool):
        self.now = timezone.now()
        self.now_us = int((self.now - dt.datetime(2000, 1, 1, tzinfo=dt.UTC)).total_seconds() * 1_000_000)
        self.postgres = connection.vendor == "postgresql"
        self.bulk_mode = bulk_mode and self.postgres
        self.next_id: dict[str, int] = {}
        self.counts: dict[str, int] = {}
        self.deferred: list[str] = []
        self._copies: queue.Queue | None = None
        self._copier: threading.Thread | None = None
        self._copy_error: BaseException | None = None

    def start(self, tables: list[type[models.Model]]):
        with connection.cursor() as cursor:
            if self.postgres:
                names = ", ".join(connection.ops.quote_name(m._meta.db_table) for m in tables)
                cursor.execute(f"LOCK TABLE {names} IN EXCLUSIVE MODE")
                # Check foreign keys per statement instead of queueing millions of deferred trigger events.
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                for model in tables:
                    table = model._meta.db_table
                    cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, 'id'))", [table])
                    self.next_id[table] = cursor.fetchone()[0]
                if self.bulk_mode:
                    self._drop_indexes(cursor, tables)
                self._start_copier()
            else:
                for model in tables:
                    table = connection.ops.quote_name(model._meta.db_table)
                    cursor.execute(f"SELECT COALESCE(MAX(id), 0) + 1 FROM {table}")  # noqa: S608
                    self.next_id[model._meta.db_table] = cursor.fetchone()[0]

    def reserve(self, model: type[models.Model], n: int) -> np.ndarray:
        table = model._meta.db_table
        first = self.next_id[table]
        self.next_id[table] = first + n
        return np.arange(first, first + n, dtype=np.int64)

    def write(self, rows: Rows):
        if rows.n == 0:
            return
        columns = _fill_defaults(rows, self.now)
        table = rows.model._meta.db_table
        quoted = ", ".join(connection.ops.quote_name(c) for c in columns)
        if self.postgres:
            step = 200_000
            sql = f"COPY {connection.ops.quote_name(table)} ({quoted}) FROM STDIN WITH (FORMAT binary)"
            for lo in range(0, rows.n, step):
                part = _slice(rows, columns, lo, min(rows.n, lo + step))
                self._copy(sql, _pg_binary(part, part.columns, self.now_us))
        else:
            fields = {f.attname: f for f in rows.model._meta.concrete_fields}
            lists = [_sqlite_values(fields[name], _column_kind(fields[name]), values, rows.n, self.now)
                     for name, values in columns.items()]
            marks = ", ".join(["%s"] * len(columns))
            with connection.cursor() as cursor:
                cursor.executemany(f"INSERT INTO {connection.ops.quote_name(table)} ({quoted}) VALUES ({marks})",  # noqa: S608
                                   list(zip(*lists, strict=True)))
        self.counts[table] = self.counts.get(table, 0) + rows.n

    def _start_copier(self):
        """COPY runs in a second thread so the server ingests one batch while numpy builds the next.

        The thread uses the same (psycopg2) connection, which the main thread leaves alone until
        stop_copier(); psycopg2 releases the GIL while it sends data.
        """
        raw = connection.connection
        self._copies = queue.Queue(maxsize=2)

        def run():
            cursor = raw.cursor()
            while (item := self._copies.get()) is not None:
                if self._copy_error is None:
                    try:
                        cursor.copy_expert(item[0], io.BytesIO(item[1]))
                    except BaseException as exc:  # re-raised in the main thread
                        self._copy_error = exc
            cursor.close()

        self._copier = threading.Thread(target=run, name="seed-demo-copy", daemon=True)
        self._copier.start()

    def _copy(self, sql: str, data: bytes):
        if self._copy_error is not None:
            raise self._copy_error
        self._copies.put((sql, data))

    def stop_copier(self):
        if self._copier is not None:
            self._copies.put(None)
            self._copier.join()
            self._copier = None
        if self._copy_error is not None:
            raise self._copy_error

    def finish(self):
        self.stop_copier()
        with connection.cursor() as cursor:
            if self.postgres:
                if self.bulk_mode:
                    cursor.execute("SET LOCAL maintenance_work_mem = '1GB'")
                    for statement in self.deferred:
                        cursor.execute(statement)
                for table, next_id in self.next_id.items():
                    # setval(…, is_called=false): the next nextval returns exactly next_id.
                    cursor.execute("SELECT setval(pg_get_serial_sequence(%s, 'id'), %s, false)", [table, next_id])
                for table in self.counts:
                    cursor.execute(f"ANALYZE {connection.ops.quote_name(table)}")

    def _drop_indexes(self, cursor, models_: list[type[models.Model]]):
        """Drop secondary indexes, unique constraints and foreign keys among the loaded tables; finish() restores them.

        Only done on empty tables inside the load's transaction, so a failure restores them as they were.
        """
        tables = [m._meta.db_table for m in models_]
        cursor.execute(
            """
            SELECT c.conname, c.conrelid::regclass::text, pg_get_constraintdef(c.oid), c.contype
            FROM pg_constraint c
            WHERE c.conrelid = ANY(%s::regclass[]) AND c.contype IN ('u', 'f')
              AND (c.contype = 'u' OR c.confrelid = ANY(%s::regclass[])
                   OR c.confrelid = 'customers_customer'::regclass)
              AND NOT EXISTS (SELECT 1 FROM pg_constraint r WHERE r.contype = 'f' AND r.conindid = c.conindid
                              AND c.contype = 'u')
            """,
            [tables, tables],
        )
        constraints = cursor.fetchall()
        cursor.execute(
            """
            SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
            FROM pg_index i
            WHERE i.indrelid = ANY(%s::regclass[]) AND NOT i.indisprimary
              AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
            """,
            [tables],
        )
        indexes = cursor.fetchall()
        qn = connection.ops.quote_name
        for name, table, _definition, _kind in constraints:
            cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {qn(name)}")
        for name, _definition in indexes:
            cursor.execute(f"DROP INDEX {name}")
        self.deferred = [definition for _name, definition in indexes]
        # Unique constraints first, then foreign keys (validated in one pass each).
        for kind in ("u", "f"):
            self.deferred += [f"ALTER TABLE {table} ADD CONSTRAINT {qn(name)} {definition}"
                              for name, table, definition, k in constraints if k == kind]


def _slice(rows: Rows, columns: dict, lo: int, hi: int) -> Rows:
    part = {k: (v[lo:hi] if isinstance(v, np.ndarray) else v) for k, v in columns.items()}
    return Rows(rows.model, hi - lo, part)


# --------------------------------------------------------------------------------------------------
# generation


@dataclass
class _Context:
    seed: int
    today: int  # days since 1970-01-01
    window_start: int
    months: int
    owner_ids: list[int]
    groups_made: int = 0  # groups numbered across chunks, so codes do not depend on database ids


def _pick(rng, n, weights) -> np.ndarray:
    p = np.asarray(weights, dtype=float)
    return rng.choice(len(p), size=n, p=p / p.sum())


def _segment_rank(groups: np.ndarray) -> np.ndarray:
    """0-based position of each row inside its run of equal (sorted) group values."""
    n = groups.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    new = np.ones(n, dtype=bool)
    new[1:] = groups[1:] != groups[:-1]
    first = np.maximum.accumulate(np.where(new, np.arange(n), 0))
    return np.arange(n) - first


def _money(cny: np.ndarray, fx: np.ndarray) -> np.ndarray:
    """CNY amounts to cents of the customer's currency, at least 1.00."""
    return np.maximum(100, np.round(cny / fx * 100)).astype(np.int64)


def _latent_effective(c, day, ctx_arrays):
    """A customer's risk at a date: the hidden level plus deterioration and the run-up to a default."""
    latent, det_start, det, default_day, defaulted = ctx_arrays
    drift = np.where(det[c], 0.012 * np.maximum(0, day - det_start[c]), 0.0)
    run_up = np.where(defaulted[c], 2.5 * np.clip((day - (default_day[c] - 120)) / 120.0, 0, 1), 0.0)
    return latent[c] + drift + run_up


def _mean_delay(latent_eff):
    """Mean days beyond terms for a risk level: a few days for good payers, months for distressed ones."""
    return 2.0 + 6.0 * np.exp(0.6 * latent_eff)


def _chunk(ctx: _Context, writer: _Writer, chunk_no: int, first: int, n: int) -> None:
    rng = np.random.default_rng(np.random.SeedSequence([ctx.seed, chunk_no]))
    today, window_start = ctx.today, ctx.window_start
    window = today - window_start
    idx = first + np.arange(n)

    # ---- firmographics
    size = _pick(rng, n, _SIZE_SHARE)
    foreign = rng.random(n) < 0.04
    prospect = rng.random(n) < 0.02
    industry = _pick(rng, n, [row[4] for row in INDUSTRIES])
    province = _pick(rng, n, [row[2] for row in PROVINCES])
    city_pick = rng.random(n)
    city_names = np.empty(n, dtype=object)
    division = np.empty(n, dtype=object)
    for p, (_prov, cities, _w) in enumerate(PROVINCES):
        rows_p = np.flatnonzero(province == p)
        which = (city_pick[rows_p] * len(cities)).astype(int)
        city_names[rows_p] = [cities[k][0] for k in which]
        division[rows_p] = [cities[k][1] for k in which]
    abroad = _pick(rng, n, [row[5] for row in FOREIGN])
    fx = np.where(foreign, np.array([row[3] for row in FOREIGN])[abroad], 1.0)
    country = np.where(foreign, np.array([row[0] for row in FOREIGN])[abroad], "CN")
    currency = np.where(foreign, np.array([row[2] for row in FOREIGN])[abroad], "CNY")
    region = np.where(foreign, np.array([row[1] for row in FOREIGN], dtype=object)[abroad],
                      np.array([row[0] for row in PROVINCES], dtype=object)[province])

    # ---- groups: about a quarter of the customers belong to a parent company with 2-6 members
    group_of = np.full(n, -1, dtype=np.int64)
    candidates = rng.permutation(np.flatnonzero(~prospect & ~foreign))
    candidates = candidates[: int(len(candidates) * 0.25)]
    sizes = rng.integers(2, 7, size=max(1, len(candidates) // 2))
    bounds = np.cumsum(sizes)
    n_groups = int(np.searchsorted(bounds, len(candidates), side="right"))
    members = candidates[: int(bounds[n_groups - 1])] if n_groups else candidates[:0]
    group_of[members] = np.repeat(np.arange(n_groups), sizes[:n_groups])
    group_effect = rng.normal(0, 0.6, n_groups)
    group_brand = rng.integers(0, len(_BRANDS), size=(n_groups, 2))
    in_group = group_of >= 0

    # ---- hidden risk and its story
    latent = (0.85 * rng.normal(0, 1, n) + np.append(group_effect, 0.0)[group_of]  # group_of -1: no group
              + np.array([row[3] for row in INDUSTRIES])[industry] + _SIZE_RISK[size] - 0.2 * foreign)
    annual_pd = _sigmoid(-3.9 + 1.2 * latent)
    long_standing = rng.random(n) < 0.7
    rel_start = np.where(long_standing, window_start - rng.integers(30, 8 * 365, n),
                         window_start + (rng.random(n) * 0.6 * window).astype(np.int64))
    det = ~prospect & (rng.random(n) < 0.04 + 0.14 * _sigmoid(latent - 0.5))
    det_start = today - rng.integers(183, 275, n)
    recent_default = det & (rng.random(n) < 0.10 + 0.25 * _sigmoid(latent))
    recent_day = np.minimum(det_start + rng.integers(45, 151, n), today - 100)
    earliest = np.maximum(window_start + 120, rel_start + 90)
    latest = today - 270
    old_default = (~det & ~prospect & (latest > earliest)
                   & (rng.random(n) < 0.35 * (1 - (1 - annual_pd) ** (window / 365.0))))
    old_day = earliest + (rng.random(n) * np.maximum(latest - earliest, 0)).astype(np.int64)
    defaulted = recent_default | old_default
    default_day = np.where(recent_default, recent_day, np.where(old_default, old_day, today + 10_000))
    writes_off = defaulted & (rng.random(n) < 0.75)
    state = (latent, det_start, det, default_day, defaulted)

    status = np.full(n, "active", dtype=object)
    status[det & (rng.random(n) < 0.25)] = "on_hold"
    status[defaulted] = "blocked"
    status[prospect] = "prospect"

    # ---- customers and groups
    group_ids = writer.reserve(CustomerGroup, n_groups)
    customer_ids = writer.reserve(Customer, n)
    brand = rng.integers(0, len(_BRANDS), size=(n, 2))
    brand[in_group] = group_brand[group_of[in_group]]
    words_zh = np.array(_INDUSTRY_WORD_ZH, dtype=object)[industry]
    suffix = np.where(size == 2, "股份有限公司", "有限公司")
    names = np.empty(n, dtype=object)
    en_brand = rng.integers(0, len(_BRANDS_EN), n)
    words_en = np.array(_INDUSTRY_WORD_EN, dtype=object)[industry]
    legal = np.array([row[4] for row in FOREIGN], dtype=object)[abroad]
    for i, (abroad_i, en, city, b, zh, sfx, lg) in enumerate(zip(
            foreign.tolist(), en_brand.tolist(), city_names.tolist(), brand.tolist(), words_zh.tolist(),
            suffix.tolist(), legal.tolist(), strict=True)):
        if abroad_i:
            names[i] = f"{_BRANDS_EN[en]} {words_en[i]} {lg}"
        else:
            names[i] = f"{city}{_BRANDS[b[0]]}{_BRANDS[b[1]]}{zh}{sfx}"
    uscc = _uscc(rng, division.astype("S6"))
    registration = uscc.astype(object)
    registration[foreign] = b""
    if n_groups:
        head = members[np.r_[0, bounds[: n_groups - 1]]]
        group_uscc = _uscc(rng, division[head].astype("S6"))
        group_names = [f"{city_names[h]}{_BRANDS[b[0]]}{_BRANDS[b[1]]}集团有限公司"
                       for h, b in zip(head.tolist(), group_brand.tolist(), strict=True)]
        writer.write(Rows(CustomerGroup, n_groups, {
            "id": group_ids,
            "code": _ascii(b"G", _digits(ctx.groups_made + np.arange(1, n_groups + 1), 7)),
            "name": np.array(group_names, dtype=object),
            "registration_no": group_uscc,
            "country": "CN",
            "notes": "",
        }))
    ctx.groups_made += n_groups
    owners = np.array(ctx.owner_ids or [0], dtype=np.int64)[idx % max(1, len(ctx.owner_ids))]
    writer.write(Rows(Customer, n, {
        "id": customer_ids,
        "code": _ascii(b"C", _digits(idx + 1, 7)),
        "name": names,
        "registration_no": registration if foreign.any() else uscc,
        "country": country.astype("S2"),
        "region": region,
        "industry": np.array([row[0] for row in INDUSTRIES], dtype="S3")[industry],
        "size": SIZES[size].astype(object),
        "group_id": np.where(in_group, group_ids[np.maximum(group_of, 0)] if n_groups else NULL_INT, NULL_INT),
        "relationship_start": np.where(prospect, NULL_DAY, rel_start),
        "status": status,
        "owner_id": owners if ctx.owner_ids else None,
        "currency": currency.astype("S3"),
        "attributes": {},
    }))
    _contacts(rng, writer, n, customer_ids, foreign, idx)

    # ---- invoices
    active_from = np.maximum(window_start, rel_start)
    active_to = np.minimum(today, default_day + 30)
    span = np.maximum(0, active_to - active_from)
    volume = INVOICES_PER_CUSTOMER / 0.87 * _SIZE_VOLUME[size] * span / max(1, window)
    count = np.where(prospect | (span < 20), 0, np.maximum(1, rng.poisson(volume)))
    total = int(count.sum())
    c = np.repeat(np.arange(n), count)
    issue = active_from[c] + (rng.random(total) * span[c]).astype(np.int64)
    order = np.lexsort((issue, c))
    issue = issue[order]
    seq = _segment_rank(c) + 1
    terms_c = np.empty(n, dtype=np.int64)
    terms_draw = rng.random(n)
    for s in range(3):
        cum = np.cumsum(_TERMS_BY_SIZE[s])
        rows_s = size == s
        terms_c[rows_s] = _TERMS[np.minimum(np.searchsorted(cum, terms_draw[rows_s]), 3)]
    terms_c[foreign] = np.where(terms_draw[foreign] < 0.5, 30, 60)
    due = issue + terms_c[c]
    scale_c = np.exp(rng.normal(0, 0.4, n)) * _SIZE_INVOICE_CNY[size]
    amount = _money(scale_c[c] * np.exp(rng.normal(0, 0.9, total)), fx[c])

    mean_delay = _mean_delay(_latent_effective(c, due, state))
    delay = np.round(mean_delay * np.exp(rng.normal(-0.28, 0.75, total)) - 4).astype(np.int64)
    dispute = rng.random(total) < 0.015
    delay += np.where(dispute, rng.integers(20, 71, total), 0)
    settle = np.maximum(issue, due + delay)
    split = rng.random(total) < 0.06
    first_day = np.maximum(issue, settle - rng.integers(10, 41, total))
    first_share = np.round(amount * rng.uniform(0.3, 0.7, total)).astype(np.int64)
    first_amount = np.where(split, np.clip(first_share, 1, amount - 1), 0)
    split &= amount >= 2
    cancelled = rng.random(total) < 0.005
    stops = default_day[c]
    first_paid = split & ~cancelled & (first_day <= today) & (first_day < stops)
    final_paid = ~cancelled & (settle <= today) & (settle < stops) & (~split | first_paid)
    paid_cents = np.where(final_paid, amount, np.where(first_paid, first_amount, 0))
    status_inv = np.where(final_paid, "paid", np.where(cancelled, "cancelled", "open")).astype(object)
    wo_day = np.minimum(today, due + 150 + rng.integers(0, 61, total))
    written_off = writes_off[c] & ~final_paid & ~cancelled & (due + 150 <= today)
    status_inv[written_off] = "written_off"
    invoice_ids = writer.reserve(Invoice, total)
    years = 1970 + (issue.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64))
    writer.write(Rows(Invoice, total, {
        "id": invoice_ids,
        "customer_id": customer_ids[c],
        "number": _ascii(b"INV", _digits(years, 4), b"-", _digits(seq, 6)),
        "issue_date": issue,
        "due_date": due,
        "amount": amount,
        "currency": currency[c].astype("S3"),
        "amount_paid": paid_cents,
        "paid_date": np.where(final_paid, settle, NULL_DAY),
        "status": status_inv,
        "written_off_date": np.where(written_off, wo_day, NULL_DAY),
    }))

    # ---- payments (one per instalment) and their allocations
    part_one = np.flatnonzero(first_paid)
    final = np.flatnonzero(final_paid)
    pay_inv = np.concatenate([part_one, final])
    instalment = np.concatenate([np.ones(len(part_one), np.int64),
                                 np.where(split[final], 2, 1)])
    pay_day = np.concatenate([first_day[part_one], settle[final]])
    pay_amount = np.concatenate([first_amount[part_one],
                                 np.where(split[final], amount[final] - first_amount[final], amount[final])])
    order = np.lexsort((instalment, pay_inv))
    pay_inv, instalment, pay_day, pay_amount = pay_inv[order], instalment[order], pay_day[order], pay_amount[order]
    n_pay = len(pay_inv)
    payment_ids = writer.reserve(Payment, n_pay)
    writer.write(Rows(Payment, n_pay, {
        "id": payment_ids,
        "customer_id": customer_ids[c[pay_inv]],
        "reference": _ascii(b"RCV", _digits(seq[pay_inv], 6), b"-", _digits(instalment, 1)),
        "date": pay_day,
        "amount": pay_amount,
        "currency": currency[c[pay_inv]].astype("S3"),
    }))
    writer.write(Rows(PaymentAllocation, n_pay, {
        "id": writer.reserve(PaymentAllocation, n_pay),
        "payment_id": payment_ids,
        "invoice_id": invoice_ids[pay_inv],
        "amount": pay_amount,
    }))

    _orders(rng, writer, n, customer_ids, size, fx, currency, status, scale_c, today)
    _statements(rng, writer, ctx, n, customer_ids, size, prospect, det, det_start, defaulted, default_day,
                latent, fx, currency)
    _reports(rng, writer, ctx, n, customer_ids, size, det, state, defaulted, default_day, fx)


def _contacts(rng, writer, n, customer_ids, foreign, idx):
    second = rng.random(n) < 0.5
    owner = np.concatenate([np.arange(n), np.flatnonzero(second)])
    primary = np.arange(len(owner)) < n
    m = len(owner)
    surname = rng.integers(0, len(_SURNAMES), m)
    given = rng.integers(0, len(_GIVEN), size=(m, 2))
    two = rng.random(m) < 0.6
    en_first = rng.integers(0, len(_GIVEN_EN), m)
    en_last = rng.integers(0, len(_SURNAMES_EN), m)
    names = []
    roles = []
    emails = []
    abroad = foreign[owner].tolist()
    numbers = (idx[owner] + 1).tolist()
    for o_abroad, number, p, first_en, last_en, sur, (g1, g2), double in zip(
            abroad, numbers, primary.tolist(), en_first.tolist(), en_last.tolist(), surname.tolist(),
            given.tolist(), two.tolist(), strict=True):
        if o_abroad:
            names.append(f"{_GIVEN_EN[first_en]} {_SURNAMES_EN[last_en]}")
            roles.append("Finance manager" if p else "Purchasing manager")
        else:
            names.append(_SURNAMES[sur] + _GIVEN[g1] + (_GIVEN[g2] if double else ""))
            roles.append("财务经理" if p else "采购经理")
        emails.append(f"{'finance' if p else 'purchasing'}@c{number:07d}.example.com")
    phone = _ascii(b"+86 1", _digits(rng.integers(30, 90, m), 2), b" ", _digits(rng.integers(0, 10**4, m), 4),
                   b" ", _digits(rng.integers(0, 10**4, m), 4))
    writer.write(Rows(Contact, m, {
        "id": writer.reserve(Contact, m),
        "customer_id": customer_ids[owner],
        "name": np.array(names, dtype=object),
        "role": np.array(roles, dtype=object),
        "email": np.array(emails, dtype=object),
        "phone": phone,
        "is_primary": primary,
    }))


def _orders(rng, writer, n, customer_ids, size, fx, currency, status, scale_c, today):
    live = (status == "active") | (status == "on_hold")
    count = np.where(live, rng.poisson(1.3 * _SIZE_VOLUME[size]), 0)
    count = np.where(status == "blocked", (rng.random(n) < 0.5).astype(np.int64), count)
    total = int(count.sum())
    c = np.repeat(np.arange(n), count)
    day = today - rng.integers(0, 41, total)
    draw = rng.random(total)
    order_status = np.select([draw < 0.55, draw < 0.75, draw < 0.80, draw < 0.95],
                             ["open", "released", "held", "shipped"], "cancelled").astype(object)
    order_status[status[c] == "blocked"] = "held"
    years = 1970 + day.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64)
    writer.write(Rows(SalesOrder, total, {
        "id": writer.reserve(SalesOrder, total),
        "customer_id": customer_ids[c],
        "number": _ascii(b"SO", _digits(years, 4), b"-", _digits(_segment_rank(c) + 1, 5)),
        "order_date": day,
        "amount": _money(scale_c[c] * 1.5 * np.exp(rng.normal(0, 0.7, total)), fx[c]),
        "currency": currency[c].astype("S3"),
        "status": order_status,
    }))


def _fiscal_year_ends(today: int) -> list[int]:
    """The last three 31 Decembers whose accounts are out (about four months after year end)."""
    day = dt.date(1970, 1, 1) + dt.timedelta(days=int(today) - 120)
    last = day.year - 1
    return [_days(dt.date(y, 12, 31)) for y in (last - 2, last - 1, last)]


def _statements(rng, writer, ctx, n, customer_ids, size, prospect, det, det_start, defaulted, default_day,
                latent, fx, currency):
    files = ~prospect & ((size >= 1) | (rng.random(n) < 0.1))
    year_ends = _fiscal_year_ends(ctx.today)
    interim_day = dt.date(1970, 1, 1) + dt.timedelta(days=int(ctx.today) - 60)
    interim_year = interim_day.year if interim_day >= dt.date(interim_day.year, 6, 30) else interim_day.year - 1
    interim_end = _days(dt.date(interim_year, 6, 30))
    with_interim = files & ((size == 2) | det) & (interim_end > year_ends[-1])
    cust = [np.flatnonzero(files)] * 3 + [np.flatnonzero(with_interim)]
    ends = [np.full(len(cust[k]), year_ends[k]) for k in range(3)] + [np.full(len(cust[3]), interim_end)]
    interim = np.concatenate([np.zeros(sum(len(x) for x in cust[:3]), bool), np.ones(len(cust[3]), bool)])
    c = np.concatenate(cust)
    pe = np.concatenate(ends)
    order = np.lexsort((pe, c))
    c, pe, interim = c[order], pe[order], interim[order]
    m = len(c)
    if not m:
        return
    # Fundamentals weaken ahead of the payment slowdown, so the latest statements show it.
    ramp = np.clip((pe - (det_start[c] - 450)) / 450.0, 0, 1)
    stress = np.where(det[c], 2.5 * ramp, 0.0)
    stress += np.where(defaulted[c] & (pe > default_day[c] - 365), 1.5, 0.0)
    risk = latent[c] + stress + rng.normal(0, 0.3, m)
    base_revenue = _SIZE_REVENUE_CNY[size] * np.exp(rng.normal(0, 0.6, n))
    revenue_cny = base_revenue[c] * np.exp(rng.normal(0, 0.08, m) - 0.08 * stress)
    period_revenue = np.where(interim, revenue_cny / 2, revenue_cny)
    turnover = np.clip(1.1 - 0.1 * risk + rng.normal(0, 0.15, m), 0.3, 3.0)
    leverage = np.clip(0.45 + 0.13 * risk + rng.normal(0, 0.06, m), 0.12, 1.25)
    assets = revenue_cny / turnover
    f = fx[c]
    total_assets = _money(assets, f)
    total_liabilities = np.round(total_assets * leverage).astype(np.int64)
    equity = total_assets - total_liabilities
    current_assets = np.round(total_assets * np.clip(0.55 + rng.normal(0, 0.08, m), 0.2, 0.9)).astype(np.int64)
    current_liabilities = np.round(total_liabilities * np.clip(0.62 + 0.05 * risk + rng.normal(0, 0.06, m),
                                                               0.3, 0.95)).astype(np.int64)
    cash = np.round(current_assets * np.clip(0.18 - 0.04 * risk + rng.normal(0, 0.04, m), 0.01, 0.3))
    receivables = np.round(current_assets * 0.35)
    inventory = np.round(current_assets * 0.30)
    margin = np.clip(0.09 - 0.035 * risk + rng.normal(0, 0.02, m), -0.3, 0.35)
    revenue = _money(period_revenue, f)
    ebit = np.round(revenue * margin).astype(np.int64)
    interest_rate = np.where(interim, 0.025, 0.05) * np.clip(1 + 0.1 * risk, 0.7, 1.6)
    interest = np.round(total_liabilities * interest_rate).astype(np.int64)
    pretax = ebit - interest
    net_income = np.where(pretax > 0, np.round(pretax * 0.75), pretax).astype(np.int64)
    cogs = np.round(revenue * np.clip(0.72 + 0.02 * risk + rng.normal(0, 0.04, m), 0.4, 0.98)).astype(np.int64)
    retained = np.round(np.abs(equity) * np.clip(0.45 - 0.15 * risk + rng.normal(0, 0.1, m), -2, 0.9)).astype(
        np.int64)
    operating_cf = np.round(revenue * (margin * 0.8 + 0.02 - 0.02 * risk)).astype(np.int64)
    audited = ~interim & ((size[c] == 2) | ((size[c] == 1) & (rng.random(m) < 0.7)) | (rng.random(m) < 0.2))
    writer.write(Rows(FinancialStatement, m, {
        "id": writer.reserve(FinancialStatement, m),
        "customer_id": customer_ids[c],
        "period_end": pe,
        "period_type": np.where(interim, "interim", "annual").astype(object),
        "audited": audited,
        "source": np.where(audited, "audited accounts", "management accounts").astype(object),
        "currency": currency[c].astype("S3"),
        "revenue": revenue,
        "cogs": cogs,
        "ebit": ebit,
        "net_income": net_income,
        "interest_expense": interest,
        "total_assets": total_assets,
        "current_assets": current_assets,
        "cash": cash.astype(np.int64),
        "inventory": inventory.astype(np.int64),
        "receivables": receivables.astype(np.int64),
        "total_liabilities": total_liabilities,
        "current_liabilities": current_liabilities,
        "retained_earnings": retained,
        "equity": equity,
        "operating_cash_flow": operating_cf,
    }))


def _reports(rng, writer, ctx, n, customer_ids, size, det, state, defaulted, default_day, fx):
    today = ctx.today
    everyone = np.arange(n)
    older = today - rng.integers(330, 421, n)
    recent = np.where(det, today - rng.integers(60, 121, n), today - rng.integers(5, 91, n))
    latest = today - rng.integers(1, 46, n)
    c = np.concatenate([everyone, everyone, np.flatnonzero(det)])
    day = np.concatenate([older, recent, latest[det]])
    manual = np.concatenate([rng.random(n) < 0.15, np.zeros(n + int(det.sum()), bool)])
    order = np.lexsort((day, c))
    c, day, manual = c[order], day[order], manual[order]
    m = len(c)
    risk = _latent_effective(c, day, state) + rng.normal(0, 0.35, m)
    risk += np.where(defaulted[c] & (day >= default_day[c]), 2.0, 0.0)
    score = np.clip(70 - 12 * risk, 5, 99)
    thresholds = np.array([t for t, _ in _RATINGS])
    rating = np.array([r for _, r in _RATINGS], dtype=object)[np.argmax(score[:, None] >= thresholds, axis=1)]
    pd = _sigmoid(-4.2 + 1.25 * risk)
    payment_index = np.clip(80 - 1.2 * (_mean_delay(risk) - 5), 1, 100)
    limit_cny = _SIZE_INVOICE_CNY[size[c]] * 3 * np.clip(score / 70, 0.1, 1.5)
    limit = np.where(defaulted[c] & (day >= default_day[c]), 0,
                     np.round(_money(limit_cny, fx[c]) / 100_000).astype(np.int64) * 100_000)
    legal = np.minimum(50, rng.poisson(0.03 * np.exp(0.9 * np.clip(risk, -3, 4))))
    writer.write(Rows(CreditReport, m, {
        "id": writer.reserve(CreditReport, m),
        "customer_id": customer_ids[c],
        "provider": np.where(manual, "manual", "demo-bureau").astype(object),
        "report_date": day,
        "score": np.round(score * 100).astype(np.int64),
        "rating": rating,
        "pd": np.round(pd * 1_000_000).astype(np.int64),
        "payment_index": np.round(payment_index * 100).astype(np.int64),
        "recommended_limit": limit,
        "legal_events": legal.astype(np.int64),
        "raw_data": {"source": "seed_demo"},
        "file": "",
    }))


# --------------------------------------------------------------------------------------------------
# entry points


def portfolio_exists() -> bool:
    return Customer.objects.exists()


def industries_seed() -> int:
    """Make sure the managed industry list holds the demo industries; returns how many were added."""
    existing = set(Industry.objects.values_list("code", flat=True))
    missing = [Industry(code=code, name=name, name_zh=name_zh)
               for code, name, name_zh, _risk, _share in INDUSTRIES if code not in existing]
    Industry.objects.bulk_create(missing)
    return len(missing)


BIG_TABLES = [CustomerGroup, Customer, Contact, Invoice, Payment, PaymentAllocation, SalesOrder,
              FinancialStatement, CreditReport]


def seed_portfolio(*, customers: int, months: int = 24, seed: int = 42, stdout=None,
                   chunk_size: int = CHUNK_CUSTOMERS, bulk: bool | None = None) -> dict[str, int]:
    """Build the demo portfolio into an empty customer table, in one transaction; returns row counts.

    The same seed on the same day gives the same portfolio (dates are relative to today). ``bulk``
    (default: from BULK_MODE_MIN_CUSTOMERS customers up) makes PostgreSQL drop the loaded tables'
    secondary indexes, unique constraints and foreign keys and rebuild them after the load.
    """
    if customers < 0 or customers > MAX_CUSTOMERS:
        raise DomainError(_("The number of customers must be between 0 and %(max)d.") % {"max": MAX_CUSTOMERS},
                          errors={"customers": [_("Out of range.")]})
    if months < 1:
        raise DomainError(_("The history must cover at least one month."), errors={"months": [_("Out of range.")]})
    today = _days(timezone.localdate())
    window_start = today - round(months * 365.25 / 12)
    owner_ids = list(get_user_model().objects.filter(username__in=["analyst", "analyst2"])
                     .order_by("username").values_list("pk", flat=True))
    ctx = _Context(seed=seed, today=today, window_start=window_start, months=months, owner_ids=owner_ids)
    started = time.perf_counter()
    with transaction.atomic():
        if portfolio_exists():
            raise DomainError(_("The demo portfolio is only built into an empty customer table."), code="not_empty")
        added_industries = industries_seed()
        writer = _Writer(bulk_mode=customers >= BULK_MODE_MIN_CUSTOMERS if bulk is None else bulk)
        writer.start(BIG_TABLES)
        try:
            for chunk_no, first in enumerate(range(0, customers, chunk_size)):
                count = min(chunk_size, customers - first)
                _chunk(ctx, writer, chunk_no, first, count)
                if stdout is not None and customers > chunk_size:
                    done = first + count
                    stdout.write(f"  {done:,} / {customers:,} customers, "
                                 f"{writer.counts.get(Invoice._meta.db_table, 0):,} invoices "
                                 f"({time.perf_counter() - started:.0f} s)")
        finally:
            writer.stop_copier()
        loaded = time.perf_counter()
        if stdout is not None and writer.bulk_mode:
            stdout.write(f"  loaded in {loaded - started:.1f} s; rebuilding indexes and constraints …")
        writer.finish()
        if stdout is not None and writer.bulk_mode:
            stdout.write(f"  indexes and constraints rebuilt in {time.perf_counter() - loaded:.1f} s")
        counts = {model._meta.model_name: writer.counts.get(model._meta.db_table, 0) for model in BIG_TABLES}
        counts["industries_added"] = added_industries
        audit_record(actor=None, action="demo.seed", subject_type="customers.portfolio", subject_id="demo",
                     subject_label="demo portfolio",
                     after={"counts": counts, "seed": seed, "months": months, "customers": customers,
                            "as_of": timezone.localdate().isoformat()},
                     reason="seed_demo")
    if stdout is not None:
        elapsed = time.perf_counter() - started
        stdout.write(f"Demo portfolio: {counts['customer']:,} customers, {counts['invoice']:,} invoices, "
                     f"{counts['payment']:,} payments in {elapsed:.1f} s.")
    return counts
