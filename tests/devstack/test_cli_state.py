"""The background dev stack's state file and the shell lines it prints."""

import os
from pathlib import Path

import pytest

from tests.devstack.cli import ServiceState, StackState, env_lines, is_ours, load_state, main, save_state


def _state() -> StackState:
    return StackState(
        {
            "kafka": ServiceState(pid=1, workdir="/w/kafka", address="127.0.0.1:9092", kind="kafka"),
            "mariadb": ServiceState(
                pid=2, workdir="/w/mariadb", address="127.0.0.1:3306", user="u", password="p"
            ),
        }
    )


def test_state_file_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "devstack" / "state.json"
    save_state(path, _state())
    assert load_state(path) == _state()


def test_env_lines_point_the_fixtures_at_the_running_servers() -> None:
    assert env_lines(_state()) == [
        "export OLAPSINK_KAFKA_BOOTSTRAP=127.0.0.1:9092",
        "export OLAPSINK_KAFKA_KIND=kafka",
        "export OLAPSINK_MARIADB=127.0.0.1:3306:u:p",
    ]


def test_a_reused_pid_running_something_else_is_not_ours() -> None:
    mine = ServiceState(pid=os.getpid(), workdir="/no/such/devstack/dir", address="x:1")
    assert not is_ours(mine)


def test_status_of_an_empty_stack_succeeds_and_down_is_a_no_op(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OLAPSINK_DEVSTACK_DIR", str(tmp_path))
    assert main(["status"]) == 0
    assert main(["down"]) == 0
    assert load_state(tmp_path / "state.json") == StackState()
