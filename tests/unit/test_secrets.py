"""Secrets are masked before MLflow or a log line sees them; nothing else changes."""

from vaeops.secrets import mask_secrets, mask_text


def test_the_userinfo_of_every_url_is_masked_and_nothing_else():
    text = (
        "storage postgresql+psycopg://alice:S3cret@db:5432/optuna, "
        "server https://bob@mlflow.internal/, store sqlite:///data/optuna.db, mail a@b.org"
    )
    assert mask_text(text) == (
        "storage postgresql+psycopg://***@db:5432/optuna, "
        "server https://***@mlflow.internal/, store sqlite:///data/optuna.db, mail a@b.org"
    )


def test_secret_named_settings_are_masked_whole_through_nested_values():
    params = {
        "tuning": {"study": {"storage": "postgresql://u:p@h/db", "name": "multvae"}},
        "db.password": "hunter2",
        "api_token": 12345,
        "empty_secret": "",
        "hidden_dims": [600, 200],
        "servers": ("http://u:p@a", "http://b"),
    }
    assert mask_secrets(params) == {
        "tuning": {"study": {"storage": "postgresql://***@h/db", "name": "multvae"}},
        "db.password": "***",
        "api_token": "***",
        "empty_secret": "",
        "hidden_dims": [600, 200],
        "servers": ("http://***@a", "http://b"),
    }
    assert mask_secrets("hunter2", "server.mlflow_password") == "***"
    assert mask_secrets(0.2, "training.anneal_cap") == 0.2


def test_a_password_holding_url_delimiters_is_masked_whole():
    for password in ("ab/cd", "a#b", "a?b", "p@ss"):
        url = f"postgresql://alice:{password}@db.internal:5432/optuna"
        assert mask_text(url) == "postgresql://***@db.internal:5432/optuna"
    assert mask_text("'http://u:p@a', 'http://b'") == "'http://***@a', 'http://b'"


def test_secret_names_are_recognised_in_their_usual_spellings():
    for name in (
        "db.password",
        "passwd",
        "pwd",
        "db_pass",
        "access_key",
        "private_key",
        "api_key",
        "auth_token",
        "client_secret",
        "credentials",
    ):
        assert mask_secrets("x", name) == "***", name
    for name in ("passes", "compass", "anneal_cap", "hidden_dims", "keys_kept"):
        assert mask_secrets("x", name) == "x", name
