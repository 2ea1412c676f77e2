"""The blob's own `legal_hold` flag gives way to LegalHold records (casefile.holds): whether a
blob is held is asked of them (`evidence.holds.held`). Nothing ever set the flag but tests."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('evidence', '0001_initial'),
    ]

    operations = [
        migrations.RemoveField(
            model_name='evidenceblob',
            name='legal_hold',
        ),
    ]
