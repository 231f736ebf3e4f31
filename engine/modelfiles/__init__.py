"""Model files: `header` (the checksummed safetensors header every model file carries; no
torch), `checkpoint` (loading and saving weights, verified field by field) and `library` (the
shipped and user models a window or the CLI lists; no torch). Nothing is imported here."""
