"""The table behind the "shared" cache (rate-limit counters) when no Redis is configured.

Created here rather than by a separate `createcachetable`, so `migrate` alone readies a database.
"""

from django.core.management import call_command
from django.db import migrations


def create_cache_table(apps, schema_editor):
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


class Migration(migrations.Migration):
    dependencies = [("advisor", "0005_report_pdf_leases")]

    operations = [migrations.RunPython(create_cache_table, migrations.RunPython.noop)]
