"""Scene composition for training: Carvana cars (photo x true mask) pasted onto procedural
studios and real street scenes, so that a model learns "the main car" instead of "whatever is not
a white-grey Carvana backdrop".

- `cutout`: a car cut out of its photo at a working scale, edge colours decontaminated (no halo
  of the old backdrop), cached on disk.
- `studio`: procedural studio backdrops (cyclorama wall and floor with a soft horizon, colours
  from white to black and saturated, gradients and light fall-off, wall text and logos, light
  panels, doors, windows, pillars, tiled and glossy floors).
- `paste`: the car on a backdrop with its shadows, reflection and turntable disc (all background);
  the label is the pasted car only.
- `compose`: one training photo of any aspect ratio and look, with geometry and photometry.
- `sources`: the real scenes folder and the fixed train/validation split of the web photos.
- `dataset`: the torch dataset mixing composites, Carvana's own studio and real photos.
"""
