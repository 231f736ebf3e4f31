"""Which cutouts need a look: a confidence per photo, with the reasons behind it."""
