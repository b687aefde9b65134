"""StreamLoader over a scripted HTTP transport: redirects, failover, direct-to-BE, error translation.

The real wire is tested against the Stream Load emulator in tests/integration/test_load_*.py; these
tests pin the client's own decisions without sockets.
"""

from __future__ import annotations

import base64
import gzip
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from olapsink_worker.errors import FatalSinkError, RetryableLoadError
from olapsink_worker.load import LoaderSettings, LoadOptions, RowsRejectedError, StreamLoader
from olapsink_worker.tables import TableRef

TABLE = TableRef("db", "orders")
LABEL = "p-orders-orders-0-0-1-0123456789abcdef"
BODY = b'{"id":1}\n{"id":2}'
AUTH = "Basic " + base64.b64encode(b"root:pw").decode()

Handler = Callable[[httpx.Request], httpx.Response]


def load_reply(status: str = "Success", **extra: Any) -> httpx.Response:
    body = {
        "TxnId": 7,
        "Label": LABEL,
        "Status": status,
        "Message": "OK",
        "NumberTotalRows": 2,
        "NumberLoadedRows": 2,
        "NumberFilteredRows": 0,
        "NumberUnselectedRows": 0,
        "LoadBytes": len(BODY),
        "LoadTimeMs": 3,
        **extra,
    }
    return httpx.Response(200, json=body)


class FakeCluster:
    """Routes requests by host to scripted FE/BE handlers and records every request."""

    def __init__(self) -> None:
        self.hosts: dict[str, Handler] = {}
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        handler = self.hosts.get(request.url.host)
        if handler is None:
            raise httpx.ConnectError("connection refused", request=request)
        return handler(request)

    def fe(self, be_host: str) -> Handler:
        def handle(request: httpx.Request) -> httpx.Response:
            location = f"http://root:pw@{be_host}:8040{request.url.raw_path.decode()}"
            return httpx.Response(307, headers={"Location": location})

        return handle

    def to(self, host: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.host == host]


def make_loader(cluster: FakeCluster, **settings: Any) -> StreamLoader:
    values: dict[str, Any] = {
        "flavor": "doris",
        "endpoints": ("http://fe1:8030", "http://fe2:8030"),
        "user": "root",
        "label_prefix": "p",
    }
    values.update(settings)
    client = httpx.Client(transport=httpx.MockTransport(cluster))
    return StreamLoader(LoaderSettings(**values), "pw", client=client)


def test_load_through_the_fe_redirect_sends_body_and_auth_to_the_be() -> None:
    cluster = FakeCluster()
    cluster.hosts["fe1"] = cluster.fe("be1")
    cluster.hosts["be1"] = lambda request: load_reply()
    result = make_loader(cluster).load(TABLE, BODY, LABEL, 2)
    assert (result.status, result.loaded_rows, result.duplicate) == ("Success", 2, False)
    probe = cluster.to("fe1")[0]
    assert probe.content == b""
    assert "label" not in probe.headers
    assert probe.headers["expect"] == "100-continue"
    put = cluster.to("be1")[0]
    assert put.method == "PUT"
    assert put.url.path == "/api/db/orders/_stream_load"
    assert put.content == BODY
    assert put.headers["authorization"] == AUTH
    assert put.headers["label"] == LABEL
    assert put.url.userinfo == b""  # the password in Location is not reused in the URL


def test_fe_down_fails_over_to_the_next_fe_and_sticks_to_it() -> None:
    cluster = FakeCluster()
    cluster.hosts["fe2"] = cluster.fe("be1")
    cluster.hosts["be1"] = lambda request: load_reply()
    loader = make_loader(cluster)
    loader.load(TABLE, BODY, LABEL, 2)
    loader.load(TABLE, BODY, LABEL, 2)
    assert len(cluster.to("fe1")) == 1  # tried once, then fe2 is preferred
    assert len(cluster.to("fe2")) == 2


def test_fe_5xx_fails_over_too() -> None:
    cluster = FakeCluster()
    cluster.hosts["fe1"] = lambda request: httpx.Response(503)
    cluster.hosts["fe2"] = cluster.fe("be1")
    cluster.hosts["be1"] = lambda request: load_reply()
    assert make_loader(cluster).load(TABLE, BODY, LABEL, 2).status == "Success"


def test_all_fes_down_is_retryable_and_names_them() -> None:
    with pytest.raises(RetryableLoadError, match=r"fe1.*fe2"):
        make_loader(FakeCluster()).load(TABLE, BODY, LABEL, 2)


def test_be_unreachable_after_redirect_is_retryable() -> None:
    cluster = FakeCluster()
    cluster.hosts["fe1"] = cluster.fe("be-gone")
    with pytest.raises(RetryableLoadError, match="be-gone"):
        make_loader(cluster).load(TABLE, BODY, LABEL, 2)


@pytest.mark.parametrize(
    ("error", "says"),
    [
        (httpx.RemoteProtocolError("Server disconnected without sending a response."), "same label"),
        (httpx.ReadTimeout("timed out"), "timed out"),
    ],
    ids=["dropped-connection", "read-timeout"],
)
def test_a_load_cut_off_after_sending_is_retryable(error: httpx.TransportError, says: str) -> None:
    cluster = FakeCluster()
    cluster.hosts["fe1"] = cluster.fe("be1")

    def fail(request: httpx.Request) -> httpx.Response:
        raise error

    cluster.hosts["be1"] = fail
    with pytest.raises(RetryableLoadError, match=says):
        make_loader(cluster).load(TABLE, BODY, LABEL, 2)


def test_fe_that_answers_the_probe_itself_is_loaded_to_directly() -> None:
    cluster = FakeCluster()
    cluster.hosts["fe1"] = lambda request: (
        load_reply(Label="generated") if not request.content else load_reply()
    )
    result = make_loader(cluster).load(TABLE, BODY, LABEL, 2)
    assert result.label == LABEL
    assert [r.content for r in cluster.to("fe1")] == [b"", BODY]


def test_fe_error_on_the_probe_is_classified() -> None:
    cluster = FakeCluster()
    cluster.hosts["fe1"] = lambda request: httpx.Response(
        200, json={"status": "FAILED", "msg": "errCode = 2, detailMessage = Unknown database 'db'"}
    )
    with pytest.raises(FatalSinkError, match="Unknown database"):
        make_loader(cluster).load(TABLE, BODY, LABEL, 2)


def test_wrong_password_is_fatal() -> None:
    cluster = FakeCluster()
    cluster.hosts["fe1"] = lambda request: httpx.Response(401, headers={"WWW-Authenticate": 'Basic realm=""'})
    with pytest.raises(FatalSinkError, match="credentials"):
        make_loader(cluster).load(TABLE, BODY, LABEL, 2)


def test_unknown_table_is_fatal() -> None:
    cluster = FakeCluster()
    cluster.hosts["fe1"] = cluster.fe("be1")
    cluster.hosts["be1"] = lambda request: load_reply(
        "Fail", Message="[ANALYSIS_ERROR]Unknown table 'orders'"
    )
    with pytest.raises(FatalSinkError, match="Unknown table"):
        make_loader(cluster).load(TABLE, BODY, LABEL, 2)


def test_replayed_label_is_a_duplicate() -> None:
    cluster = FakeCluster()
    cluster.hosts["fe1"] = cluster.fe("be1")
    cluster.hosts["be1"] = lambda request: load_reply(
        "Label Already Exists", ExistingJobStatus="FINISHED", TxnId=-1, Message="[LABEL_ALREADY_EXISTS]"
    )
    result = make_loader(cluster).load(TABLE, BODY, LABEL, 2)
    assert result.duplicate
    assert result.loaded_rows == 0


def test_rejected_rows_are_fetched_from_the_error_url() -> None:
    cluster = FakeCluster()
    cluster.hosts["fe1"] = cluster.fe("be1")

    def be(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/_load_error_log":
            return httpx.Response(200, text='Reason: id is not a number. src line [{"id":"x"}]; \n')
        return load_reply(
            "Fail",
            Message="[DATA_QUALITY_ERROR]too many filtered rows",
            NumberFilteredRows=1,
            NumberLoadedRows=1,
            ErrorURL="http://be1:8040/api/_load_error_log?file=err_1",
        )

    cluster.hosts["be1"] = be
    with pytest.raises(RowsRejectedError) as caught:
        make_loader(cluster).load(TABLE, BODY, LABEL, 2)
    error = caught.value
    assert error.filtered_rows == 1
    assert error.error_url == "http://be1:8040/api/_load_error_log?file=err_1"
    assert error.rejected_rows == ['Reason: id is not a number. src line [{"id":"x"}]; ']


def test_unreachable_error_log_still_reports_the_url() -> None:
    cluster = FakeCluster()
    cluster.hosts["fe1"] = cluster.fe("be1")
    cluster.hosts["be1"] = lambda request: load_reply(
        "Fail",
        Message="too many filtered rows",
        NumberFilteredRows=2,
        ErrorURL="http://hidden-be/api/_load_error_log",
    )
    with pytest.raises(RowsRejectedError) as caught:
        make_loader(cluster).load(TABLE, BODY, LABEL, 2)
    assert caught.value.rejected_rows == []
    assert caught.value.error_url == "http://hidden-be/api/_load_error_log"


def test_gzip_body_is_compressed_and_announced() -> None:
    cluster = FakeCluster()
    cluster.hosts["fe1"] = cluster.fe("be1")
    cluster.hosts["be1"] = lambda request: load_reply()
    make_loader(cluster, options=LoadOptions(compression="gzip")).load(TABLE, BODY, LABEL, 2)
    put = cluster.to("be1")[0]
    assert put.headers["compress_type"] == "gz"
    assert gzip.decompress(put.content) == BODY


def test_direct_to_be_uses_the_fe_backend_list_round_robin() -> None:
    cluster = FakeCluster()
    backends = {
        "backends": [
            {"ip": "be1", "http_port": 8040, "is_alive": True},
            {"ip": "be2", "http_port": 8040, "is_alive": True},
            {"ip": "be3", "http_port": 8040, "is_alive": False},
        ]
    }
    cluster.hosts["fe1"] = lambda request: httpx.Response(
        200, json={"code": 0, "msg": "success", "data": backends}
    )
    cluster.hosts["be1"] = cluster.hosts["be2"] = lambda request: load_reply()
    loader = make_loader(cluster, auto_redirect=False)
    for _ in range(4):
        loader.load(TABLE, BODY, LABEL, 2)
    fe_calls = cluster.to("fe1")
    assert [r.url.path for r in fe_calls] == ["/api/backends"]  # listed once, cached
    assert fe_calls[0].url.params["is_alive"] == "true"
    assert len(cluster.to("be1")) == 2 and len(cluster.to("be2")) == 2
    assert cluster.to("be3") == []


def test_direct_to_be_refetches_the_list_after_a_be_fails() -> None:
    cluster = FakeCluster()
    listing = {"backends": [{"ip": "be-dead", "http_port": 8040, "is_alive": True}]}
    cluster.hosts["fe1"] = lambda request: httpx.Response(200, json=listing)
    loader = make_loader(cluster, auto_redirect=False)
    with pytest.raises(RetryableLoadError):
        loader.load(TABLE, BODY, LABEL, 2)
    listing["backends"] = [{"ip": "be1", "http_port": 8040, "is_alive": True}]
    cluster.hosts["be1"] = lambda request: load_reply()
    assert loader.load(TABLE, BODY, LABEL, 2).status == "Success"


def test_two_phase_commit_precommits_then_commits_by_txn_id() -> None:
    cluster = FakeCluster()
    cluster.hosts["fe1"] = cluster.fe("be1")

    def be(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("_stream_load_2pc"):
            return httpx.Response(
                200, json={"status": "Success", "msg": "transaction [7] commit successfully."}
            )
        return load_reply(TwoPhaseCommit="true")

    cluster.hosts["be1"] = be
    make_loader(cluster, two_phase_commit=True).load(TABLE, BODY, LABEL, 2)
    load_put, commit = cluster.to("be1")
    assert load_put.headers["two_phase_commit"] == "true"
    assert commit.url.path == "/api/db/orders/_stream_load_2pc"
    assert (commit.headers["txn_id"], commit.headers["txn_operation"]) == ("7", "commit")
    assert commit.headers["authorization"] == AUTH


def test_commit_of_an_already_visible_transaction_counts_as_done() -> None:
    cluster = FakeCluster()
    cluster.hosts["fe1"] = lambda request: httpx.Response(
        200,
        json={"status": "ANALYSIS_ERROR", "msg": "transaction [7] is already VISIBLE, not pre-committed."},
    )
    make_loader(cluster).commit(TABLE, 7)


def test_invalid_label_is_refused_before_sending() -> None:
    cluster = FakeCluster()
    with pytest.raises(FatalSinkError, match="labelPrefix"):
        make_loader(cluster).load(TABLE, BODY, "bad label!", 2)
    assert cluster.requests == []


def test_metrics_hear_about_every_load() -> None:
    cluster = FakeCluster()
    cluster.hosts["fe1"] = cluster.fe("be1")
    cluster.hosts["be1"] = lambda request: load_reply()
    seen: list[tuple[TableRef, str, int, int]] = []

    class Metrics:
        def load_finished(
            self, table: TableRef, outcome: str, seconds: float, body_bytes: int, rows: int
        ) -> None:
            seen.append((table, outcome, body_bytes, rows))

    settings = LoaderSettings(flavor="doris", endpoints=("http://fe1:8030",), user="root", label_prefix="p")
    loader = StreamLoader(
        settings, "pw", client=httpx.Client(transport=httpx.MockTransport(cluster)), metrics=Metrics()
    )
    loader.load(TABLE, BODY, LABEL, 2)
    with pytest.raises(FatalSinkError):
        loader.load(TABLE, BODY, "bad label!", 2)
    assert seen == [(TABLE, "success", len(BODY), 2), (TABLE, "fatal", len(BODY), 2)]


def test_settings_from_a_doris_manifest() -> None:
    from olapsink_worker.spec import parse_manifest

    sink = parse_manifest(
        {
            "apiVersion": "olapsink.io/v1alpha1",
            "kind": "DorisSink",
            "metadata": {"name": "orders", "namespace": "shop"},
            "spec": {
                "kafka": {"bootstrapServers": "kafka:9092", "topics": ["orders"]},
                "doris": {
                    "feHosts": ["fe1", "fe2"],
                    "httpPort": 18030,
                    "database": "shop_db",
                    "user": "loader",
                    "autoRedirect": False,
                    "requestConnectTimeoutMs": 2000,
                },
                "load": {"properties": {"Strict_Mode": "true"}, "maxFilterRatio": 0.5},
                "deletes": {"enabled": True},
            },
        }
    )
    settings = LoaderSettings.from_sink(sink)
    assert settings.endpoints == ("http://fe1:18030", "http://fe2:18030")
    assert (settings.user, settings.auto_redirect, settings.connect_timeout) == ("loader", False, 2.0)
    assert settings.label_prefix == "shop_orders"
    assert settings.options.compression == "gzip"  # the Doris default
    assert settings.options.deletes
    assert settings.options.properties == {"strict_mode": "true"}
    assert not settings.two_phase_commit  # at-least-once: labels, not 2PC


def test_settings_from_a_starrocks_manifest() -> None:
    from olapsink_worker.spec import parse_manifest

    sink = parse_manifest(
        {
            "apiVersion": "olapsink.io/v1alpha1",
            "kind": "StarRocksSink",
            "metadata": {"name": "orders", "namespace": "shop"},
            "spec": {
                "kafka": {"bootstrapServers": "kafka:9092", "topics": ["orders"]},
                "starrocks": {"httpUrls": ["fe1:8030", "https://fe2:8443"], "database": "shop_db"},
                "load": {"labelPrefix": "mine"},
            },
        }
    )
    settings = LoaderSettings.from_sink(sink)
    assert settings.endpoints == ("http://fe1:8030", "https://fe2:8443")
    assert settings.label_prefix == "mine"
    assert settings.options.compression == "none"
    loader = StreamLoader(sink, "", client=httpx.Client(transport=httpx.MockTransport(FakeCluster())))
    assert loader.frame([b"{}", b"{}"]) == b"[{},{}]"
    assert loader.label_for(TABLE, [("orders", 0, 1, 2)]).startswith("mine-orders-orders-0-1-2-")


def test_fetch_error_rows_caps_the_number_of_lines() -> None:
    cluster = FakeCluster()
    cluster.hosts["be1"] = lambda request: httpx.Response(200, text="\n".join(f"row {i}" for i in range(50)))
    assert make_loader(cluster).fetch_error_rows("http://be1:8040/api/_load_error_log?file=e", limit=10) == [
        f"row {i}" for i in range(10)
    ]


def label_taken_cluster(state_reply: dict[str, Any]) -> FakeCluster:
    cluster = FakeCluster()

    def fe(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/db/get_load_state":
            assert request.url.params["label"] == LABEL
            return httpx.Response(200, json=state_reply)
        return cluster.fe("be1")(request)

    cluster.hosts["fe1"] = fe
    cluster.hosts["be1"] = lambda request: load_reply(
        "Label Already Exists", ExistingJobStatus="", TxnId=-1, Message="[LABEL_ALREADY_EXISTS]"
    )
    return cluster


@pytest.mark.parametrize(
    "state_reply",
    [
        {"code": 0, "msg": "success", "data": "VISIBLE"},
        {"status": "OK", "msg": "Success", "state": "COMMITTED"},
    ],
    ids=["doris", "starrocks"],
)
def test_label_taken_without_job_status_is_settled_by_the_label_state(state_reply: dict[str, Any]) -> None:
    result = make_loader(label_taken_cluster(state_reply)).load(TABLE, BODY, LABEL, 2)
    assert result.duplicate


def test_label_taken_by_a_running_job_stays_retryable() -> None:
    cluster = label_taken_cluster({"status": "OK", "state": "PREPARE"})
    with pytest.raises(RetryableLoadError, match="PREPARE"):
        make_loader(cluster).load(TABLE, BODY, LABEL, 2)


def test_label_taken_and_state_unreadable_stays_retryable() -> None:
    cluster = label_taken_cluster({"nothing": "here"})
    with pytest.raises(RetryableLoadError, match="in use"):
        make_loader(cluster).load(TABLE, BODY, LABEL, 2)


def test_errors_never_show_the_password_from_the_redirect() -> None:
    cluster = FakeCluster()
    cluster.hosts["fe1"] = cluster.fe("be1")
    cluster.hosts["be1"] = lambda request: load_reply(
        "Fail", Message="[ANALYSIS_ERROR]Unknown table 'orders'"
    )
    with pytest.raises(FatalSinkError) as caught:
        make_loader(cluster).load(TABLE, BODY, LABEL, 2)
    assert "pw@" not in str(caught.value)
    assert "be1:8040" in str(caught.value)


def test_doris_tls_settings_use_https_and_the_mounted_ca(monkeypatch: pytest.MonkeyPatch) -> None:
    from olapsink_worker.spec import parse_manifest

    monkeypatch.setenv("OLAPSINK_SECRETS_DIR", "/mnt/secrets")
    sink = parse_manifest(
        {
            "apiVersion": "olapsink.io/v1alpha1",
            "kind": "DorisSink",
            "metadata": {"name": "orders", "namespace": "shop"},
            "spec": {
                "kafka": {"bootstrapServers": "kafka:9092", "topics": ["orders"]},
                "doris": {
                    "feHosts": ["fe1"],
                    "database": "shop_db",
                    "tls": {
                        "enabled": True,
                        "caSecretRef": {"name": "doris-ca", "key": "ca.pem"},
                        "skipHostnameVerification": True,
                    },
                },
            },
        }
    )
    settings = LoaderSettings.from_sink(sink)
    assert settings.endpoints == ("https://fe1:8030",)
    assert settings.ca_file == "/mnt/secrets/doris-ca/ca.pem"
    assert not settings.check_hostname


def test_https_fe_redirecting_to_plain_http_is_refused_without_sending_the_password() -> None:
    cluster = FakeCluster()
    cluster.hosts["fe1"] = cluster.fe("be1")  # Location: http://root:pw@be1:8040/...
    cluster.hosts["be1"] = lambda request: load_reply()
    loader = make_loader(cluster, endpoints=("https://fe1:8030",))
    with pytest.raises(FatalSinkError, match="plain http") as raised:
        loader.load(TABLE, BODY, LABEL, 2)
    assert "pw" not in str(raised.value)
    assert cluster.to("be1") == []


def test_starrocks_prepare_and_commit_wait_as_long_as_a_load() -> None:
    def reply(request: httpx.Request) -> httpx.Response:
        op = request.url.path.rsplit("/", 1)[-1]
        if op == "get_load_state":
            return httpx.Response(200, json={"status": "OK", "state": "VISIBLE"})
        return httpx.Response(200, json={"Status": "OK", "Label": LABEL, "TxnId": 9, "Message": ""})

    cluster = FakeCluster()
    cluster.hosts["fe1"] = reply
    loader = make_loader(cluster, flavor="starrocks", endpoints=("http://fe1:8030",), read_timeout=5.0)
    assert loader.precommit(TABLE, BODY, LABEL, 2).status == "PREPARED"
    loader.commit(TABLE, label=LABEL)
    reads = {r.url.path.rsplit("/", 1)[-1]: r.extensions["timeout"]["read"] for r in cluster.requests}
    assert reads["begin"] == 5.0
    assert reads["prepare"] >= 600
    assert reads["commit"] >= 600


def test_two_phase_load_without_a_txn_id_in_the_reply_commits_by_label() -> None:
    cluster = FakeCluster()
    cluster.hosts["fe1"] = cluster.fe("be1")

    def be(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("_stream_load_2pc"):
            return httpx.Response(
                200, json={"status": "Success", "msg": f"label [{LABEL}] commit successfully."}
            )
        return load_reply(TwoPhaseCommit="true", TxnId=-1)

    cluster.hosts["be1"] = be
    make_loader(cluster, two_phase_commit=True).load(TABLE, BODY, LABEL, 2)
    commits = [r for r in cluster.to("be1") if r.url.path.endswith("_stream_load_2pc")]
    assert [(c.headers["label"], c.headers["txn_operation"]) for c in commits] == [(LABEL, "commit")]


def test_doris_precommit_replay_hands_back_the_precommitted_label() -> None:
    # A precommit whose earlier attempt precommitted but whose reply was lost: the caller gets the label
    # back to commit (or abort) instead of retrying until the FE expires the transaction an hour later.
    cluster = label_taken_cluster({"code": 0, "msg": "success", "data": "PRECOMMITTED"})
    result = make_loader(cluster).precommit(TABLE, BODY, LABEL, 2)
    assert (result.status, result.duplicate, result.label) == ("PRECOMMITTED", False, LABEL)
