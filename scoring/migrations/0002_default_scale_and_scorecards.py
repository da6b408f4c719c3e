"""Ship the default master scale and scorecards as data (scoring.defaults)."""

from django.db import migrations


def forwards(apps, schema_editor):
    from scoring.defaults import install_defaults

    install_defaults(
        MasterScale=apps.get_model("scoring", "MasterScale"),
        Grade=apps.get_model("scoring", "Grade"),
        Scorecard=apps.get_model("scoring", "Scorecard"),
        ScorecardFactor=apps.get_model("scoring", "ScorecardFactor"),
    )


class Migration(migrations.Migration):

    dependencies = [("scoring", "0001_initial")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
