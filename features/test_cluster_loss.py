from pytest_bdd import scenarios

scenarios("cluster_loss.feature")
