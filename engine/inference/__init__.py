"""Running the models on a photo: `predict` (the `Predictor`: load, tile, vote, refine, the main
car; `lite`: the same without torch, on pre-converted OpenVINO models, sharing the numpy steps of
`arrays` and `matting`), `backends` (torch or OpenVINO), `devices` (device and precision, never
a silent fallback), `ensemble` (the vote), `pipeline` (read-ahead and write-behind threads) and
`memory` (what a photo's work needs). Nothing is imported here."""
