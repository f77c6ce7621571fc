"""Evidence an auditor accepts: scenario records, Allure metadata, the tamper-evident bundle."""
