import httpx
from olapsink_worker.health import Health, HealthServer
from olapsink_worker.main import main
from olapsink_worker.metrics import WorkerMetrics


def test_probes_and_metrics_over_http():
    health, metrics = Health(stall_after=60), WorkerMetrics()
    metrics.records_consumed.labels("t").inc(5)
    server = HealthServer(health, metrics.registry, 0, host="127.0.0.1").start()
    try:
        base = f"http://127.0.0.1:{server.port}"
        assert httpx.get(f"{base}/healthz").status_code == 200
        assert httpx.get(f"{base}/readyz").status_code == 503  # not in the group yet
        health.joined = True
        assert httpx.get(f"{base}/readyz").status_code == 200
        health.fatal = "LoadFailed: unknown table"
        r = httpx.get(f"{base}/readyz")
        assert r.status_code == 503 and "unknown table" in r.text
        health.last_beat -= 120
        assert httpx.get(f"{base}/healthz").status_code == 503
        assert 'olapsink_records_consumed_total{topic="t"} 5.0' in httpx.get(f"{base}/metrics").text
    finally:
        server.close()


def test_readyz_is_not_ready_while_partitions_wait_for_the_schema_registry():
    health = Health(stall_after=60)
    health.joined = True
    health.waiting = (
        "waiting for the schema registry http://r:8081: 1 partition(s) held back, t[0] at offset 7"
    )
    assert health.ready() == (False, health.waiting)
    assert health.alive() == (True, "ok"), "the loop still turns: no restart"
    health.waiting = None
    assert health.ready() == (True, "ok")


def test_invalid_config_exits_3_and_writes_the_status(tmp_path):
    cfg = tmp_path / "sink.yaml"
    cfg.write_text(
        "apiVersion: olapsink.io/v1alpha1\nkind: DorisSink\nmetadata: {name: x}\nspec: {replicas: -1}\n"
    )
    status = tmp_path / "status"
    assert main(["--config", str(cfg), "--status-file", str(status), "--log-format", "text"]) == 3
    assert "ConfigError" in status.read_text()
