"""Make the nightly re-score's write of Customer.current_* cheap on PostgreSQL.

- current_grade loses its index (and PostgreSQL's varchar_pattern_ops twin): with no index on any
  column the re-score writes, PostgreSQL can update the rows in place (HOT: no new entry in any of the
  table's other indexes).
- customers_customer gets fillfactor 50 on PostgreSQL, so every page keeps room for a new version of each
  of its rows: the whole-portfolio update stays HOT every night (old versions are pruned in-page).
  This applies to pages written from now on; an existing table is repacked with
  ``VACUUM FULL customers_customer`` (or pg_repack) in a maintenance window.
"""

from django.db import migrations, models

FILLFACTOR = 50


def set_fillfactor(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE customers_customer SET (fillfactor = {FILLFACTOR})")


def reset_fillfactor(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE customers_customer RESET (fillfactor)")


class Migration(migrations.Migration):

    dependencies = [
        ("customers", "0003_invoice_paid_outside"),
    ]

    operations = [
        migrations.AlterField(
            model_name="customer",
            name="current_grade",
            field=models.CharField(blank=True, max_length=4, verbose_name="grade"),
        ),
        migrations.RunPython(set_fillfactor, reset_fillfactor, elidable=False),
    ]
