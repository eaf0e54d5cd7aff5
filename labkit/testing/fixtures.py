"""pytest plugin with session-scoped servers and a browser for widget tests (filled by the widgets work)."""
