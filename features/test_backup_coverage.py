from pytest_bdd import scenarios

scenarios("backup_coverage.feature")
