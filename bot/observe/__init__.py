"""What people and operators see: logs, traces, metrics, the run views and the progress comment.

Structured logs (`logs`), OpenTelemetry spans (`telemetry`), Prometheus metrics (`metrics`),
the read models of the dashboard and CLI (`runview`, `endings`), where the dashboard is served
(`exposure`) and the one progress comment per run (`progress`).
"""
