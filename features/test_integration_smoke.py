from pytest_bdd import scenarios

scenarios("integration_smoke.feature")
