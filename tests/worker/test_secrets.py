import pytest
from olapsink_worker.errors import ConfigError
from olapsink_worker.secrets import database_password, read_secret

from .fakes import make_sink


def test_password_from_env_beats_file_beats_mount(tmp_path):
    sink = make_sink(doris={"passwordSecretRef": {"name": "cred", "key": "pw"}})
    (tmp_path / "cred").mkdir()
    (tmp_path / "cred" / "pw").write_text("mounted\n")
    (tmp_path / "file").write_text("from-file\n")
    env = {"OLAPSINK_SECRETS_DIR": str(tmp_path)}
    assert database_password(sink, env) == "mounted"
    assert (
        database_password(sink, {**env, "OLAPSINK_DB_PASSWORD_FILE": str(tmp_path / "file")}) == "from-file"
    )
    assert database_password(sink, {**env, "OLAPSINK_DB_PASSWORD": " spaced "}) == " spaced "


def test_no_secret_ref_means_empty_password_and_missing_mount_names_the_field(tmp_path):
    assert database_password(make_sink(), {}) == ""
    sink = make_sink(doris={"passwordSecretRef": {"name": "cred", "key": "pw"}})
    with pytest.raises(ConfigError, match=r"spec\.doris\.passwordSecretRef.*OLAPSINK_DB_PASSWORD"):
        database_password(sink, {"OLAPSINK_SECRETS_DIR": str(tmp_path)})


def test_read_secret_keeps_inner_whitespace(tmp_path):
    class Ref:
        name, key = "s", "k"

    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "k").write_text("a b\n\n")
    assert read_secret(Ref(), "x", {"OLAPSINK_SECRETS_DIR": str(tmp_path)}) == "a b\n"
