"""`OutputPlan` with listing names (a name template's): whatever the photos, the template's
names and the files already in the output folder, every planned output is a different file,
none is an input photo or a file CarMask did not write, and each photo's names stay fixed."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.batch.outputs import OutputPlan, _key

stems = st.sampled_from(["car_01", "car_02", "Car_01", "VIN", "VIN_listing", "x", "car_01_jpg"])
photos = st.lists(
    st.tuples(stems, st.sampled_from([".jpg", ".png", ".JPG"])), min_size=1, max_size=6
)
names = st.lists(st.sampled_from(["VIN", "VIN_01", "car_01", "car_01_listing", "x"]), max_size=6)
foreign = st.lists(
    st.sampled_from(["VIN.jpg", "car_01.jpg", "car_01_listing.jpg", "VIN_listing.jpg", "x.png"]),
    max_size=4,
)
formats = st.sets(st.sampled_from(["png", "mask", "jpg"]), max_size=3)


@settings(max_examples=150, deadline=None)
@given(photos=photos, names=names, foreign=foreign, formats=formats, into_shoot=st.booleans())
def test_listing_names_never_collide_or_replace_anything(
    photos, names, foreign, formats, into_shoot
):
    with tempfile.TemporaryDirectory() as tmp:
        shoot = Path(tmp) / "shoot"
        shoot.mkdir()
        inputs = []
        for stem, ext in photos:
            path = shoot / f"{stem}{ext}"
            if _key(path) not in {_key(p) for p in inputs}:
                path.write_bytes(b"photo")
                inputs.append(path)
        out = shoot if into_shoot else Path(tmp) / "out"
        out.mkdir(exist_ok=True)
        for name in foreign:
            if not (out / name).exists():
                (out / name).write_bytes(b"the studio's own file")
        listing = {p: names[i % len(names)] for i, p in enumerate(inputs)} if names else None
        plan = OutputPlan((*sorted(formats), "listing"), inputs, listing)
        planned = {p: plan.assign(p, out) for p in inputs}
        every = [path for paths in planned.values() for path in paths.values()]
        keys = [_key(p) for p in every]
        assert len(keys) == len(set(keys))  # no two outputs are one file (on any disk)
        assert not {_key(p) for p in inputs} & set(keys)  # no photo is an output
        assert not any(p.exists() for p in every)  # nothing there (the studio's) is replaced
        for photo, paths in planned.items():
            assert paths["listing"].suffix == ".jpg"
            if not listing:
                assert paths["listing"].name.endswith("_listing.jpg")
            else:
                assert paths["listing"].stem.startswith(listing[photo])
            assert plan.assign(photo, out) == paths  # fixed once chosen
