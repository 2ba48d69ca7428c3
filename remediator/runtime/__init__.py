"""The running daemon: wiring, lifecycle and signals, the driver, standby, systemd."""
