"""Reference fixtures from the original frameworks and libraries, for livetag's parity tests."""
