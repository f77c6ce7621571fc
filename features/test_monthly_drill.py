from pytest_bdd import scenarios

scenarios("monthly_drill.feature")
