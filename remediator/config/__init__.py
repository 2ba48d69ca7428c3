"""The configuration: YAML to frozen models, FILE:LINE messages, secrets, reload diffs."""
