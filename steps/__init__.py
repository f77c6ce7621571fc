"""Step definitions: glue from the Gherkin text to harness functions, nothing more."""
