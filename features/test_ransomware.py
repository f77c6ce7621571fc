from pytest_bdd import scenarios

scenarios("ransomware.feature")
