"""What every converter, exporter and reference generator shares."""
