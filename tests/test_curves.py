"""helpers.references.curves (the generator) and helpers.reference_data (the run-time reader).

Figures and quick checks in the student's kernel show reference curves as data,
``helpers/data/reference_curves.npz``; the code that made them stays with the
trusted grader. The committed file must be exactly what the generator gives today
(``make release`` rewrites it), and what the reader returns must be the references.
"""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import numpy as np
import pytest

from helpers import reference_data
from helpers.references import curves, nmda, waveforms

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def fresh():
    return curves.compute()


def test_committed_file_is_exactly_a_fresh_generation(fresh):
    assert curves.DATA_PATH == reference_data.DATA_PATH
    committed = curves.DATA_PATH.read_bytes()
    data = curves.to_bytes(fresh)
    if committed != data:  # say which curve is stale before failing
        with np.load(io.BytesIO(committed)) as old:
            stale = sorted(set(old.files) ^ set(fresh)) + [
                name for name in sorted(set(old.files) & set(fresh))
                if old[name].dtype != fresh[name].dtype or not np.array_equal(old[name], fresh[name])]
        pytest.fail(f"helpers/data/reference_curves.npz is stale ({stale}); run `make release`")


def test_the_file_is_deterministic_and_plain(fresh, tmp_path):
    assert curves.to_bytes(fresh) == curves.to_bytes(curves.compute())
    out = curves.write(tmp_path / "curves.npz")
    assert out.read_bytes() == curves.DATA_PATH.read_bytes()
    with zipfile.ZipFile(out) as archive:
        infos = archive.infolist()
        assert [info.filename for info in infos] == [name + ".npy" for name in sorted(fresh)]
        assert {info.compress_type for info in infos} == {zipfile.ZIP_STORED}
        assert {info.date_time for info in infos} == {(1980, 1, 1, 0, 0, 0)}


def test_make_release_writes_the_curves_before_the_release(tmp_path, monkeypatch):
    """`make release` runs `python -m coursekit release`, which writes the curves, then the notebooks."""
    from coursekit import release as rel

    makefile = (ROOT / "Makefile").read_text()
    recipe = re.search(r"^release:.*\n((?:\t.*\n)+)", makefile, re.M).group(1)
    assert [line.strip() for line in recipe.splitlines()] == ["$(BIN)/python -m coursekit release"]
    order = []
    monkeypatch.setattr(curves, "DATA_PATH", tmp_path / "curves.npz")
    monkeypatch.setattr(curves, "write", lambda path: order.append("curves") or path)
    monkeypatch.setattr(rel, "generate_release", lambda src, out: order.append("release") or [])
    rel.release(tmp_path / "src", tmp_path / "out")
    assert order == ["curves", "release"]


def test_reader_returns_the_stored_arrays_read_only(fresh):
    assert reference_data.names() == sorted(fresh)
    for name, array in fresh.items():
        stored = reference_data.curve(name)
        assert stored.dtype == array.dtype and np.array_equal(stored, array), name
        assert not stored.flags.writeable
    with pytest.raises(KeyError, match="no reference curve 'nope'"):
        reference_data.curve("nope")


def test_waveforms_are_the_references_after_a_spike():
    t = np.arange(0.0, 200.0, 0.1)
    np.testing.assert_allclose(reference_data.waveform("alpha_tau5", t, t_s=10.0),
                               waveforms.alpha_conductance(t - 10.0, 1.0, 5.0), rtol=0, atol=1e-12)
    np.testing.assert_allclose(reference_data.waveform("dual_exp_8_60", t, t_s=10.0, scale=2.0),
                               waveforms.dual_exp_conductance(t - 10.0, 2.0, 8.0, 60.0), rtol=0, atol=1e-12)
    assert reference_data.waveform("alpha_tau5", [-5.0, 9.99], t_s=10.0).tolist() == [0.0, 0.0]
    # between grid points: linear interpolation, close to the closed form on this fine grid
    odd = np.array([3.33, 17.77, 123.456])
    np.testing.assert_allclose(reference_data.waveform("dual_exp_8_60", odd),
                               waveforms.dual_exp_conductance(odd, 1.0, 8.0, 60.0), atol=2e-5)
    with pytest.raises(ValueError, match="covers 300 ms"):
        reference_data.waveform("alpha_tau5", [320.0])
    assert reference_data.value("value.dual_exp_peak_time_8_60") == float(waveforms.dual_exp_peak_time(8.0, 60.0))


def test_figure_curves_are_the_references():
    u = reference_data.curve("nb03.block.u")
    for mg in (0.0, 0.5, 1.2, 2.0):
        np.testing.assert_allclose(reference_data.curve(f"nb03.block.B.{mg:g}"), nmda.mg_block(u, mg),
                                   rtol=1e-6, atol=1e-7)
    t = reference_data.curve("nb01.waveforms.fast.t")
    np.testing.assert_allclose(reference_data.curve("nb01.waveforms.fast.alpha_tau1"),
                               waveforms.alpha_conductance(t, 1.0, 1.0), rtol=1e-6, atol=1e-6)
    lecture_u = reference_data.curve("nb01.lecture.u")
    assert lecture_u.shape == (10001,) and -70.0 < lecture_u.min() < lecture_u.max() < -55.0
