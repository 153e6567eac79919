"""SQL over the bill: the CUR 2.0 data export's columns and query, its Glue table, saved queries.

One definition shared by the platform stack (export, Glue table, Athena named queries) and the CLI
(`claude-finops cur-query`), so the export writes exactly the columns the table declares and the
queries read. Unverified (REFERENCE.md): the `resource_tags` key of a user tag is expected to be
`user_<key>` with characters other than letters and digits turned into `_` (see `cur_tag_key`);
Data Exports is expected to write Parquet under `<prefix>/<export>/data/BILLING_PERIOD=YYYY-MM/`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

EXPORT_TABLE = "COST_AND_USAGE_REPORT"
PARTITION_COLUMN = "billing_period"  # from the BILLING_PERIOD=YYYY-MM folder
FIRST_BILLING_PERIOD = "2024-01"

# (column, Glue/Athena type): what the export selects and the Glue table declares, in order.
CUR_COLUMNS: tuple[tuple[str, str], ...] = (
    ("bill_billing_period_start_date", "timestamp"),
    ("bill_payer_account_id", "string"),
    ("line_item_usage_account_id", "string"),
    ("line_item_line_item_type", "string"),
    ("line_item_usage_start_date", "timestamp"),
    ("line_item_usage_end_date", "timestamp"),
    ("line_item_product_code", "string"),
    ("line_item_usage_type", "string"),
    ("line_item_operation", "string"),
    ("line_item_resource_id", "string"),
    ("line_item_usage_amount", "double"),
    ("line_item_unblended_cost", "double"),
    ("line_item_currency_code", "string"),
    ("resource_tags", "map<string,string>"),
)


def export_query() -> str:
    """The export's QueryStatement (Data Exports supports a subset of SQL: plain column lists)."""
    return f"SELECT {', '.join(name for name, _ in CUR_COLUMNS)} FROM {EXPORT_TABLE}"


def cur_tag_key(tag_key: str) -> str:
    """Key of a user cost-allocation tag in the `resource_tags` map (unverified: see module doc)."""
    return "user_" + re.sub(r"[^A-Za-z0-9]", "_", tag_key)


def glue_database_name(name_prefix: str) -> str:
    """Glue database of the export's table (letters, digits, underscores)."""
    return f"{name_prefix.replace('-', '_')}_billing"


GLUE_TABLE_NAME = "cur2"


def export_name(name_prefix: str) -> str:
    """The data export's name (also the folder under the prefix)."""
    return f"{name_prefix}-cur2"


def athena_workgroup_name(name_prefix: str) -> str:
    """The Athena workgroup with encrypted results."""
    return f"{name_prefix}-billing"


@dataclass(frozen=True)
class SavedQuery:
    """An Athena named query over the export."""

    name: str
    description: str
    sql: str


def _recent_periods() -> str:
    return f"{PARTITION_COLUMN} >= date_format(date_add('month', -2, current_date), '%Y-%m')"


def saved_queries(*, database: str, table: str, tag_key: str) -> tuple[SavedQuery, ...]:
    """Daily spend per project, per model (usage type) and per profile (resource), last 3 months."""
    tag = f"element_at(resource_tags, '{cur_tag_key(tag_key)}')"
    source = f'"{database}"."{table}"'
    where = f"WHERE {_recent_periods()}\n  AND {tag} IS NOT NULL AND {tag} <> ''"
    day = "date(line_item_usage_start_date) AS usage_day"
    cost = "round(sum(line_item_unblended_cost), 6) AS cost_usd"
    return (
        SavedQuery(
            "daily-spend-by-project",
            "Claude platform: daily spend per project (cost-allocation tag), last 3 billing periods",
            f"SELECT {day}, {tag} AS project, {cost}\nFROM {source}\n{where}\nGROUP BY 1, 2\nORDER BY 1, 2",
        ),
        SavedQuery(
            "daily-spend-by-model",
            "Claude platform: daily spend per project and usage type (names the model), last 3 billing periods",
            f"SELECT {day}, {tag} AS project, line_item_usage_type AS usage_type, "
            f"sum(line_item_usage_amount) AS usage_amount, {cost}\nFROM {source}\n{where}\n"
            "GROUP BY 1, 2, 3\nORDER BY 1, 2, 3",
        ),
        SavedQuery(
            "daily-spend-by-profile",
            "Claude platform: daily spend per project and inference profile (resource id), last 3 billing periods",
            f"SELECT {day}, {tag} AS project, line_item_resource_id AS resource_id, {cost}\n"
            f"FROM {source}\n{where}\nGROUP BY 1, 2, 3\nORDER BY 1, 2, 3",
        ),
    )
