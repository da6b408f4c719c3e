"""The import columns per kind (DESIGN.md "Import columns"), their types and header aliases."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from customers.models import CustomerStatus, InvoiceStatus, OrderStatus, PeriodType, SizeSegment

KINDS = ("customers", "invoices", "payments", "orders", "financials", "credit_reports", "outcomes")


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # text, date, money, amount, decimal, int, bool, currency, country, choice, pd
    required: bool = False
    max_length: int | None = None
    choices: dict[str, str] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()
    example: str = ""


@dataclass(frozen=True)
class KindSpec:
    kind: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]

    @property
    def by_name(self) -> dict[str, Column]:
        return {column.name: column for column in self.columns}

    @property
    def required(self) -> list[str]:
        return [column.name for column in self.columns if column.required]


def _choices(enum, extra: dict[str, str] | None = None) -> dict[str, str]:
    """Accept the stored value, its English label and a few Chinese spellings."""
    mapping = {}
    for value, label in enum.choices:
        mapping[value] = value
        mapping[re.sub(r"[\s\-]+", "_", str(label).lower())] = value
    for spelling, value in (extra or {}).items():
        mapping[spelling] = value
    return mapping


CUSTOMER_STATUS = _choices(CustomerStatus, {"潜在": "prospect", "潜在客户": "prospect", "活跃": "active",
                                            "正常": "active", "有效": "active", "暂停": "on_hold", "冻结": "blocked",
                                            "禁止": "blocked", "关闭": "closed", "注销": "closed", "hold": "on_hold",
                                            "onhold": "on_hold"})
SIZES = _choices(SizeSegment, {"小": "small", "小型": "small", "小微": "small", "中": "medium", "中型": "medium",
                               "大": "large", "大型": "large", "s": "small", "m": "medium", "l": "large"})
INVOICE_STATUS = _choices(InvoiceStatus, {"未付": "open", "未结清": "open", "已付": "paid", "已结清": "paid",
                                          "核销": "written_off", "已核销": "written_off", "坏账": "written_off",
                                          "作废": "cancelled", "已作废": "cancelled", "取消": "cancelled",
                                          "canceled": "cancelled", "writtenoff": "written_off"})
ORDER_STATUS = _choices(OrderStatus, {"未结": "open", "待处理": "open", "冻结": "held", "暂扣": "held",
                                      "放行": "released", "已放行": "released", "已发货": "shipped",
                                      "发货": "shipped", "取消": "cancelled", "已取消": "cancelled",
                                      "canceled": "cancelled"})
PERIOD_TYPES = _choices(PeriodType, {"年报": "annual", "年度": "annual", "year": "annual", "fy": "annual",
                                     "中期": "interim", "季报": "interim", "半年报": "interim", "月报": "interim",
                                     "quarter": "interim", "quarterly": "interim"})

CUSTOMER_CODE = Column("customer_code", "text", True, 40,
                       aliases=("客户编码", "客户代码", "客户编号", "客户号", "客户id", "customer", "customer_id",
                                "customer_no"), example="C0001")
CURRENCY = Column("currency", "currency", aliases=("币种", "币别", "货币", "ccy"), example="CNY")

SPECS: dict[str, KindSpec] = {
    "customers": KindSpec("customers", (
        Column("code", "text", True, 40, aliases=("客户编码", "客户代码", "客户编号", "编码", "代码",
                                                  "customer_code", "customer_id"), example="C0001"),
        Column("name", "text", True, 200, aliases=("客户名称", "名称", "公司名称", "企业名称", "customer_name"),
               example="上海示例贸易有限公司"),
        Column("registration_no", "text", max_length=40,
               aliases=("统一社会信用代码", "社会信用代码", "信用代码", "注册号", "工商注册号", "registration_number",
                        "uscc"), example="91350100M000100Y43"),
        Column("country", "country", aliases=("国家", "国家/地区", "国别"), example="CN"),
        Column("region", "text", max_length=80, aliases=("地区", "区域", "省份", "大区"), example="East"),
        Column("industry", "text", max_length=120, aliases=("行业", "所属行业"), example="Manufacturing"),
        Column("size", "choice", choices=SIZES, aliases=("规模", "企业规模", "size_segment"), example="medium"),
        Column("group_code", "text", max_length=40, aliases=("集团编码", "集团代码", "母公司编码", "group"),
               example="G001"),
        Column("relationship_start", "date", aliases=("合作开始日期", "合作起始日期", "建立关系日期", "开始合作日期"),
               example="2020-01-15"),
        Column("status", "choice", choices=CUSTOMER_STATUS, aliases=("状态", "客户状态"), example="active"),
        Column("owner", "text", max_length=150, aliases=("负责人", "客户经理", "信用分析师", "分析师", "owner_analyst"),
               example=""),
        CURRENCY,
    ), key=("code",)),
    "invoices": KindSpec("invoices", (
        CUSTOMER_CODE,
        Column("number", "text", True, 60, aliases=("发票号", "发票号码", "发票编号", "单据号", "单据编号",
                                                    "invoice_number", "invoice_no", "invoice"), example="INV-2026-0001"),
        Column("issue_date", "date", True, aliases=("开票日期", "发票日期", "出票日期", "单据日期", "invoice_date"),
               example="2026-03-01"),
        Column("due_date", "date", True, aliases=("到期日", "到期日期", "应收日期", "付款到期日"), example="2026-04-30"),
        Column("amount", "amount", True, aliases=("金额", "发票金额", "含税金额", "价税合计", "应收金额"),
               example="12,345.60"),
        CURRENCY,
        Column("paid_amount", "money", aliases=("已付金额", "已收金额", "回款金额", "已收款", "amount_paid"),
               example="0"),
        Column("status", "choice", choices=INVOICE_STATUS, aliases=("状态", "发票状态"), example="open"),
        Column("paid_date", "date", aliases=("结清日期",)),
        Column("written_off_date", "date", aliases=("核销日期",)),
    ), key=("customer_code", "number")),
    "payments": KindSpec("payments", (
        CUSTOMER_CODE,
        Column("reference", "text", True, 80, aliases=("付款编号", "收款单号", "回款单号", "流水号", "参考号",
                                                       "付款参考号", "payment_reference", "payment_id"),
               example="PAY-2026-0001"),
        Column("date", "date", True, aliases=("付款日期", "收款日期", "回款日期", "日期", "payment_date"),
               example="2026-04-28"),
        Column("amount", "amount", True, aliases=("金额", "付款金额", "收款金额", "回款金额"), example="12,345.60"),
        CURRENCY,
        Column("invoice_number", "text", max_length=60, aliases=("发票号", "发票号码", "发票编号", "invoice",
                                                                 "invoice_no"), example="INV-2026-0001"),
    ), key=("customer_code", "reference")),
    "orders": KindSpec("orders", (
        CUSTOMER_CODE,
        Column("number", "text", True, 60, aliases=("订单号", "订单编号", "销售订单号", "order_number", "order_no"),
               example="SO-2026-0001"),
        Column("order_date", "date", True, aliases=("订单日期", "下单日期", "日期", "date"), example="2026-03-05"),
        Column("amount", "amount", True, aliases=("金额", "订单金额"), example="50,000.00"),
        CURRENCY,
        Column("status", "choice", choices=ORDER_STATUS, aliases=("状态", "订单状态"), example="open"),
    ), key=("customer_code", "number")),
    "financials": KindSpec("financials", (
        CUSTOMER_CODE,
        Column("period_end", "date", True, aliases=("报告期", "期末日期", "会计期末", "报表日期", "截止日期"),
               example="2025-12-31"),
        Column("period_type", "choice", choices=PERIOD_TYPES, aliases=("报告类型", "期间类型", "报表类型"),
               example="annual"),
        Column("audited", "bool", aliases=("是否审计", "已审计", "审计"), example="1"),
        CURRENCY,
        Column("revenue", "money", True, aliases=("营业收入", "营业总收入", "收入", "sales"), example="10,000,000"),
        Column("cogs", "money", aliases=("营业成本", "销售成本"), example="7,000,000"),
        Column("ebit", "money", True, aliases=("息税前利润",), example="900,000"),
        Column("net_income", "money", True, aliases=("净利润",), example="600,000"),
        Column("interest_expense", "money", aliases=("利息费用", "利息支出"), example="100,000"),
        Column("total_assets", "money", True, aliases=("资产总计", "总资产", "资产合计"), example="8,000,000"),
        Column("current_assets", "money", True, aliases=("流动资产合计", "流动资产"), example="5,000,000"),
        Column("cash", "money", aliases=("货币资金", "现金"), example="1,000,000"),
        Column("inventory", "money", aliases=("存货",), example="1,500,000"),
        Column("receivables", "money", aliases=("应收账款",), example="2,000,000"),
        Column("total_liabilities", "money", True, aliases=("负债合计", "总负债"), example="5,000,000"),
        Column("current_liabilities", "money", True, aliases=("流动负债合计", "流动负债"), example="3,500,000"),
        Column("retained_earnings", "money", aliases=("未分配利润", "留存收益"), example="1,200,000"),
        Column("equity", "money", True, aliases=("所有者权益合计", "股东权益合计", "所有者权益", "股东权益", "净资产"),
               example="3,000,000"),
        Column("operating_cash_flow", "money", aliases=("经营活动产生的现金流量净额", "经营活动现金流量净额",
                                                        "经营现金流"), example="700,000"),
        Column("source", "text", max_length=80, aliases=("来源", "数据来源"), example="annual report"),
    ), key=("customer_code", "period_end", "period_type")),
    "credit_reports": KindSpec("credit_reports", (
        CUSTOMER_CODE,
        Column("provider", "text", True, 60, aliases=("机构", "报告机构", "征信机构", "提供方", "评级机构"),
               example="manual"),
        Column("report_date", "date", True, aliases=("报告日期", "日期"), example="2026-02-15"),
        Column("score", "decimal", aliases=("评分", "外部评分", "信用评分"), example="72"),
        Column("rating", "text", max_length=20, aliases=("评级", "信用评级", "外部评级"), example="BBB"),
        Column("pd", "pd", aliases=("违约概率", "external_pd"), example="0.015"),
        Column("payment_index", "decimal", aliases=("付款指数",), example="80"),
        Column("recommended_limit", "money", aliases=("建议额度", "推荐额度", "建议信用额度"), example="500,000"),
        Column("legal_events", "int", aliases=("法律事件", "涉诉数", "涉诉事件"), example="0"),
    ), key=("customer_code", "provider", "report_date")),
    "outcomes": KindSpec("outcomes", (
        CUSTOMER_CODE,
        Column("observation_date", "date", True, aliases=("观察日期", "观测日期", "观察日"), example="2025-06-30"),
        Column("defaulted", "bool", True, aliases=("是否违约", "违约", "default", "bad"), example="0"),
    ), key=("customer_code", "observation_date")),
}


def normalise_header(text) -> str:
    """Lowercase, trimmed, full-width folded, units in brackets and a trailing * dropped, spaces as _."""
    value = unicodedata.normalize("NFKC", str(text if text is not None else "")).replace("\ufeff", "")
    value = value.strip().lower().rstrip("*").strip()
    value = re.sub(r"\s*[(\[][^)\]]*[)\]]$", "", value)
    return re.sub(r"[\s\-.]+", "_", value).strip("_")


def header_lookup(kind: str) -> dict[str, str]:
    """Every accepted (normalised) header spelling → canonical column name."""
    lookup: dict[str, str] = {}
    for column in SPECS[kind].columns:
        for alias in column.aliases:
            lookup.setdefault(normalise_header(alias), column.name)
    for column in SPECS[kind].columns:  # canonical names win over another column's alias
        lookup[column.name] = column.name
    return lookup
