from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "casefile.accounts"
    label = "accounts"
