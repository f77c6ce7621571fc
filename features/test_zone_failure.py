from pytest_bdd import scenarios

scenarios("zone_failure.feature")
