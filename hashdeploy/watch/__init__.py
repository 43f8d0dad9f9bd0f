"""Watch mode: a watchdog observer and the deploy-cycle loop it drives."""
