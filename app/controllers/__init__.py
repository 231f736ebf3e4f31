"""Controllers: each drives one part of the work through the `SessionModel` (never the window)."""
