# The user app's restart policy (meshport.usertask): back-off doubles and is
# capped, repeated failures stop the task and say so, a deploy resets it.
# Runs under micropython (make test-upy) and CPython.
from meshport.usertask import RestartPolicy


def test_first_failure_restarts_after_the_minimum_backoff():
    policy = RestartPolicy(max_failures=5, backoff_min_ms=1000, backoff_max_ms=8000)
    assert policy.failed(10000, "ZeroDivisionError: divide by zero") == 11000
    assert not policy.due(10999)
    assert policy.due(11000)
    assert policy.status() == {"app_state": "restarting", "app_errors": 1,
                               "app_last_error": "ZeroDivisionError: divide by zero"}


def test_backoff_doubles_and_is_capped():
    policy = RestartPolicy(max_failures=10, backoff_min_ms=1000, backoff_max_ms=8000)
    delays = [policy.failed(0, "E") for _ in range(6)]
    assert delays == [1000, 2000, 4000, 8000, 8000, 8000]


def test_repeated_failures_stop_the_task_and_say_so():
    policy = RestartPolicy(max_failures=3)
    policy.failed(0, "E1")
    policy.failed(0, "E2")
    assert policy.failed(0, "E3") is None
    assert policy.gave_up()
    assert not policy.due(10 ** 9)
    assert policy.status()["app_state"] == "stopped"
    assert policy.status()["app_last_error"] == "E3"


def test_reset_after_a_deploy_runs_again():
    policy = RestartPolicy(max_failures=1)
    policy.failed(0, "E")
    assert policy.gave_up()
    policy.reset()
    assert not policy.gave_up()
    assert policy.status() == {"app_state": "running", "app_errors": 0,
                               "app_last_error": None}
