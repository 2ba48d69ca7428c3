"""The pure decision core: rules, per-(rule, target) state, guardrails; no I/O, clock or logs."""
