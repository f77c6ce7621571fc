"""Root pytest glue: the drill plugin and the step modules, registered as plugins so pytest-bdd finds them."""

pytest_plugins = [
    "harness.drills.pytest_plugin",
    "steps.common_steps",
    "steps.pod_failure_steps",
    "steps.zone_failure_steps",
    "steps.cluster_loss_steps",
    "steps.ransomware_steps",
    "steps.backup_steps",
    "steps.coverage_steps",
    "steps.smoke_steps",
]
