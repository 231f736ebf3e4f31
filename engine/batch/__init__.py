"""A batch of photos, from the folder they are found in to the files written: `intake` (which
photos, grouped by car), `photo` (one photo's way, `process_photo`, and the loop every caller
runs, `run_batch`), `outputs` (where each output goes; names claimed in the folder's record),
`export` (the formats a photo is written in), `manifest` (the photo lines of the folder's ledger:
what is done, so a rerun skips it) and `watch` (a hot folder). Nothing is imported here."""
