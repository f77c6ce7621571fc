from pytest_bdd import scenarios

scenarios("pod_failure.feature")
