"""The one HTTP listener and its routes: Alertmanager intake, admin, status."""
