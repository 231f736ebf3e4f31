"""Listing-ready output (issue 21): every angle of a car framed the same way (`framing`), on a
backdrop with shadows (`render`), at the sizes listing sites take (`choices`); `batch` does it
for a batch of photos, car by car. No Qt, no torch: masks come from `engine.inference.predict`,
files go
out through the batch's `engine.batch.outputs.OutputPlan`."""
