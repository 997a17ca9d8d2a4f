"""Seeded generator of realistic single-chromosome crops (synthetic G-banded chromosomes).

This is the embedded default data set of the book: it runs on a CPU anywhere, needs no
download, and is deterministic for a given seed.

Every crop looks like one chromosome segmented from a metaphase image: dark on a white
(255) background, a tight crop with a small white margin, at an arbitrary angle.  The
chromosome is drawn analytically in its own (s, t) frame (s along the axis from the p end,
t across it): two sister chromatids with rounded telomere ends, a centromere constriction
at the textbook centromere index, a faint groove between the chromatids, and a G-band-like
band pattern that is fixed per chromosome TYPE (with a little per-instance jitter).

Polarity (p up or down) is learnable only from the band pattern and the arm lengths:
the rendering code treats both ends identically (same cap shape, same width law, same
noise/blur), and the pixel grid is symmetric about the chromosome centre, so a type with
centromere index 0.5 and a palindromic band pattern renders equal to its own vertical flip
(see ``tests/test_synthetic.py``).

Angle convention: ``angle`` is the counter-clockwise (as seen on screen) rotation applied to
the upright, p-up rendering, i.e. the one ``cv2.getRotationMatrix2D(center, angle, 1.0)``
describes, about the centre of the upright canvas, on a canvas grown so nothing is cut off.
The rotation is applied analytically (each output pixel is mapped back into the upright
frame), which is the same transform without any resampling loss.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .karyotype import CENTROMERE_INDEX, RELATIVE_LENGTH, TYPES

__all__ = [
    "SyntheticChromosome",
    "render_chromosome",
    "upright",
    "make_cell",
    "make_dataset",
]


# --- size model (output pixels at scale 1) -------------------------------------------
_LEN_PER_UNIT = 12.0  # px per % of haploid length
_LEN_OFFSET = 4.0  # px added (caps); chr1 ~105 px, chr21 ~27 px at condensation 1
_MARGIN = 3  # white margin of the final crop, px
_SS = 3  # supersampling factor (odd: block means keep the grid symmetric)
_FG_THRESHOLD = 240.0  # clean-image value below which a pixel counts as chromosome (crop)
_BAND_PX = 4.6  # mean band width (px at scale 1, condensation 1) of the fixed patterns


@dataclass(frozen=True)
class SyntheticChromosome:
    """One synthetic chromosome crop and its ground truth."""

    image: np.ndarray  # uint8 (H, W), dark on white, tight crop with a small margin
    chromosome: str  # '1'..'22', 'X' or 'Y'
    angle: float  # degrees in [0, 360), CCW rotation applied to the p-up rendering
    cell: str  # metaphase id, e.g. 'syn0003'
    copy: int  # 0 or 1 (homologue)
    bent: bool  # True if the axis is curved


# --- band patterns --------------------------------------------------------------------

_PATTERN_CACHE: dict[str, tuple[np.ndarray, np.ndarray]] = {}


def _arm_bands(rng: np.random.Generator, length_px: float) -> tuple[list[float], list[float]]:
    """Band widths (fractions of the arm, telomere first) and darkness values for one arm.

    Bands alternate light/dark starting with a light band at the telomere.
    """
    n = max(1, int(round(length_px / _BAND_PX)))
    if n > 1 and n % 2 == 0 and length_px / _BAND_PX < n:  # prefer odd: light at both ends
        n -= 1
    widths = rng.gamma(4.0, 1.0, size=n)
    widths /= widths.sum()
    dark = []
    for i in range(n):
        if i % 2 == 0:  # light band
            dark.append(float(rng.uniform(0.0, 0.22)))
        else:  # dark band, varying darkness (some grey, some very dark)
            dark.append(float(rng.choice([rng.uniform(0.4, 0.65), rng.uniform(0.65, 1.0)])))
    return list(widths), dark


def _band_pattern(chromosome: str) -> tuple[np.ndarray, np.ndarray]:
    """Fixed band pattern of a chromosome type: (edges, darkness).

    ``edges`` has n+1 increasing values from 0 (p telomere) to 1 (q telomere) in normalised
    length; ``darkness[i]`` in [0, 1] is the band between edges[i] and edges[i+1].
    Deterministic in the type only (seeded by the type index), never by the instance rng.
    """
    if chromosome in _PATTERN_CACHE:
        return _PATTERN_CACHE[chromosome]
    rel, ci = RELATIVE_LENGTH[chromosome], CENTROMERE_INDEX[chromosome]
    rng = np.random.default_rng(7919 + 31 * TYPES.index(chromosome))
    total = _LEN_PER_UNIT * rel + _LEN_OFFSET
    pw, pd = _arm_bands(rng, total * ci)
    qw, qd = _arm_bands(rng, total * (1.0 - ci))
    # p arm is listed telomere -> centromere; q arm centromere -> telomere, so reverse q.
    p_edges = ci * np.concatenate([[0.0], np.cumsum(pw)])
    q_rev = qw[::-1]
    q_edges = ci + (1.0 - ci) * np.concatenate([[0.0], np.cumsum(q_rev)])
    edges = np.concatenate([p_edges, q_edges[1:]])
    edges[-1] = 1.0
    darkness = np.array(pd + qd[::-1])
    _PATTERN_CACHE[chromosome] = (edges, darkness)
    return edges, darkness


def _band_profile(edges: np.ndarray, darkness: np.ndarray, u: np.ndarray, soft: float) -> np.ndarray:
    """Darkness along normalised length ``u`` for bands (edges, darkness) with soft edges.

    ``soft`` is the edge half-width in normalised units (logistic transitions), so the
    profile is smooth and treats both directions identically.
    """
    v = np.full(u.shape, float(darkness[0]))
    soft = max(soft, 1e-6)
    for i in range(1, len(darkness)):
        step = 1.0 / (1.0 + np.exp(-(u - edges[i]) / soft))
        v += (darkness[i] - darkness[i - 1]) * step
    return v


# --- axis geometry --------------------------------------------------------------------


def _axis_angle(s: np.ndarray, length: float, bend: float, kind: int, pos: float) -> np.ndarray:
    """Tangent angle (radians, from the downward vertical) along arc length s."""
    if bend == 0.0:
        return np.zeros_like(s)
    u = np.clip(s / length, 0.0, 1.0)  # straight extensions beyond the ends
    theta = bend * np.deg2rad(70.0)
    if kind == 0:  # arc (constant curvature)
        phi = theta * (u - 0.5)
    elif kind == 1:  # S shape
        phi = 0.5 * theta * np.sin(2.0 * np.pi * u)
    else:  # localised kink at relative position `pos`
        phi = theta * (1.0 / (1.0 + np.exp(-(u - pos) / 0.06)) - 0.5)
    return phi


class _Axis:
    """Chromosome axis as a polyline P(s), s in [-ext, L + ext], centred at its bbox centre."""

    def __init__(self, length: float, bend: float, kind: int, pos: float, ext: float):
        self.length = length
        self.straight = bend == 0.0
        if self.straight:
            self.ds = 1.0
            return
        n = int(np.ceil((length + 2 * ext) * 2)) + 1
        s = np.linspace(-ext, length + ext, n)
        phi = _axis_angle(s, length, bend, kind, pos)
        # remove the mean tangent angle of the chromosome proper so the chord is ~vertical
        inside = (s >= 0) & (s <= length)
        phi = phi - phi[inside].mean()
        ds = s[1] - s[0]
        dx = np.sin(phi) * ds
        dy = np.cos(phi) * ds
        x = np.concatenate([[0.0], np.cumsum(0.5 * (dx[1:] + dx[:-1]))])
        y = np.concatenate([[0.0], np.cumsum(0.5 * (dy[1:] + dy[:-1]))])
        xi, yi = x[inside], y[inside]
        x -= 0.5 * (xi.min() + xi.max())
        y -= 0.5 * (yi.min() + yi.max())
        self.s, self.x, self.y, self.phi, self.ds = s, x, y, phi, ds
        self.kappa = np.gradient(phi, s)

    def half_extent(self) -> tuple[float, float]:
        """(max |x|, max |y|) of the axis between s = 0 and s = L."""
        if self.straight:
            return 0.0, self.length / 2.0
        inside = (self.s >= 0) & (self.s <= self.length)
        return float(np.abs(self.x[inside]).max()), float(np.abs(self.y[inside]).max())

    def project(self, x: np.ndarray, y: np.ndarray, s_init: np.ndarray | None = None
                ) -> tuple[np.ndarray, np.ndarray]:
        """Arc length s and signed normal distance t of points (x, y) (upright frame).

        ``s_init``: starting guess for the foot point (default: coarse nearest sample).
        """
        if self.straight:
            return y + self.length / 2.0, x
        if s_init is None:
            step = max(1, int(round(1.5 / self.ds)))
            cx, cy = self.x[::step], self.y[::step]
            cs = self.s[::step]
            best = np.empty(x.shape, dtype=np.float64)
            bestd = np.full(x.shape, np.inf)
            for j in range(len(cs)):
                d = (x - cx[j]) ** 2 + (y - cy[j]) ** 2
                m = d < bestd
                bestd[m] = d[m]
                best[m] = cs[j]
            s = best
            iters = 3
        else:
            s = s_init
            iters = 2
        for _ in range(iters):
            px = np.interp(s, self.s, self.x)
            py = np.interp(s, self.s, self.y)
            ph = np.interp(s, self.s, self.phi)
            sn, cs_ = np.sin(ph), np.cos(ph)
            g = (px - x) * sn + (py - y) * cs_
            k = np.interp(s, self.s, self.kappa)
            gp = 1.0 + ((px - x) * cs_ - (py - y) * sn) * k
            gp = np.where(np.abs(gp) < 0.2, 0.2, gp)
            s = np.clip(s - g / gp, self.s[0], self.s[-1])
        px = np.interp(s, self.s, self.x)
        py = np.interp(s, self.s, self.y)
        ph = np.interp(s, self.s, self.phi)
        t = (x - px) * np.cos(ph) - (y - py) * np.sin(ph)
        return s, t


# --- the renderer ---------------------------------------------------------------------


def _render_upright(
    length: float,
    width: float,
    centromere: float,
    bands: tuple[np.ndarray, np.ndarray],
    *,
    light: float = 175.0,
    dark: float = 50.0,
    angle: float = 0.0,
    bend: float = 0.0,
    bend_kind: int = 0,
    bend_pos: float = 0.5,
    width_var: tuple[np.ndarray, np.ndarray] | None = None,
    constriction: float = 0.3,
    groove: float = 0.3,
    texture: tuple[np.ndarray, float, float] | None = None,
    blur: float = 0.8,
) -> tuple[np.ndarray, np.ndarray]:
    """Render one chromosome, noise-free, as float images (clean, full canvas).

    ``length``/``width`` in output pixels, ``centromere`` = p/(p+q), ``bands`` = (edges,
    darkness) in normalised length from the p end.  ``light``/``dark`` are the grey values of
    the palest and darkest band.  ``width_var`` = (amplitudes, phases) of cosine width
    modulations (None: none).  ``angle`` = CCW rotation in degrees (applied analytically).
    ``groove``: relative lightening of the groove between the sister chromatids.
    ``texture`` = (field, spacing, amplitude): a smooth random field sampled in the (s, t)
    frame of the chromosome (field rows along s from s = -2 px, columns along t from
    t = -width), modulating the stain darkness (chromatin granularity); None: none.

    Returns (image, mask) on a canvas centred on the chromosome, symmetric about its centre
    (float64, image in grey levels, background 255, Gaussian blur ``blur`` applied).
    """
    half_w = width / 2.0
    axis = _Axis(length, bend, bend_kind, bend_pos, ext=width + 2.0)
    ax_x, ax_y = axis.half_extent()
    pad = 1.0 + 3.0 * blur + _MARGIN + 1.0
    hx = ax_x + half_w * 1.1 + pad
    hy = ax_y + half_w * 1.1 + pad
    # grow the canvas for the rotation (about the centre, nothing cut off)
    a = np.deg2rad(angle)
    ca, sa = np.cos(a), np.sin(a)
    ex = abs(ca) * hx + abs(sa) * hy
    ey = abs(sa) * hx + abs(ca) * hy
    W = int(np.ceil(2 * ex))
    H = int(np.ceil(2 * ey))
    # output pixel centres, symmetric about the canvas centre
    xs = np.arange(W) + 0.5 - W / 2.0
    ys = np.arange(H) + 0.5 - H / 2.0
    X, Y = np.meshgrid(xs, ys)
    # inverse of cv2.getRotationMatrix2D(c, angle, 1): x' = c x + s y ; y' = -s x + c y
    s0, t0 = axis.project(ca * X - sa * Y, sa * X + ca * Y)
    hmax = half_w * (1.0 + (np.abs(width_var[0]).sum() if width_var is not None else 0.0))
    r_cap = 0.56 * half_w  # end caps: the same radius at both ends
    active = (np.abs(t0) < 1.05 * hmax + 1.5) & (s0 > -1.5) & (s0 < length + 1.5)
    iy, ix = np.nonzero(active)
    # supersampled sub-pixel centres of the active pixels only
    off = (np.arange(_SS) + 0.5) / _SS - 0.5
    oy, ox = np.meshgrid(off, off, indexing="ij")
    Xs = X[iy, ix][:, None] + ox.ravel()[None, :]
    Ys = Y[iy, ix][:, None] + oy.ravel()[None, :]
    s_init = np.repeat(s0[iy, ix][:, None], _SS * _SS, axis=1)
    s, t = axis.project(ca * Xs - sa * Ys, sa * Xs + ca * Ys, s_init)

    # half-width profile: constriction at the centromere, optional smooth modulation
    u = s / length
    h = np.full(s.shape, half_w)
    if width_var is not None:
        amps, phases = width_var
        mod = np.zeros_like(u)
        for k, (am, ph) in enumerate(zip(amps, phases)):
            mod += am * np.cos(np.pi * (k + 1) * np.clip(u, 0, 1) + ph)
        h = h * (1.0 + mod)
    sig_c = max(0.55 * half_w, 1.5)
    h = h * (1.0 - constriction * np.exp(-0.5 * ((s - centromere * length) / sig_c) ** 2))

    tex = None
    if texture is not None:
        field, spacing, amp = texture
        tex = _sample_field(field, (s + 2.0) / spacing, (t + width) / spacing)
        h = h * (1.0 + 0.1 * amp * tex)  # slightly ragged outline

    # two sister chromatids: capsules of radius r centred at +-c across the axis; the end
    # caps have the same radius at both ends
    r = 0.54 * h
    c = 0.47 * h
    ds_end = np.maximum(0.0, np.maximum(r_cap - s, s - (length - r_cap)))
    alpha = np.zeros_like(s)
    for sign in (-1.0, 1.0):
        tk = t - sign * c
        sdf = np.sqrt(tk * tk + ds_end * ds_end) - r
        np.maximum(alpha, np.clip(0.5 - sdf * _SS, 0.0, 1.0), out=alpha)
    # faint lighter groove along the middle
    sig_g = np.maximum(0.09 * h, 0.35)
    shade = alpha * (1.0 - groove * np.exp(-0.5 * (t / sig_g) ** 2))

    edges, darkness = bands
    soft = 0.45 / length
    ug = np.linspace(0.0, 1.0, int(np.ceil(length * _SS * 2)) + 1)
    v = np.interp(u, ug, _band_profile(edges, darkness, ug, soft))
    d_light = 255.0 - light
    d_dark = 255.0 - dark
    dark_amount = d_light + (d_dark - d_light) * v
    if tex is not None:
        dark_amount = dark_amount * (1.0 + amp * tex)
    vals = np.clip(255.0 - shade * dark_amount, 0.0, 255.0)
    # downsample (block mean) to output resolution
    img = np.full((H, W), 255.0)
    img[iy, ix] = vals.mean(axis=1)
    mask = np.zeros((H, W))
    mask[iy, ix] = alpha.mean(axis=1)
    if blur > 0:
        img = cv2.GaussianBlur(img, (0, 0), blur, borderType=cv2.BORDER_REPLICATE)
    return img, mask


def _sample_field(field: np.ndarray, r: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Bilinear sample of a 2-D field at fractional (row, column) positions (clamped)."""
    r = np.clip(r, 0.0, field.shape[0] - 1.001)
    c = np.clip(c, 0.0, field.shape[1] - 1.001)
    r0 = r.astype(np.intp)
    c0 = c.astype(np.intp)
    fr = r - r0
    fc = c - c0
    f00 = field[r0, c0]
    f01 = field[r0, c0 + 1]
    f10 = field[r0 + 1, c0]
    f11 = field[r0 + 1, c0 + 1]
    return (f00 * (1 - fc) + f01 * fc) * (1 - fr) + (f10 * (1 - fc) + f11 * fc) * fr


def _crop_and_noise(clean: np.ndarray, noise: float, rng: np.random.Generator | None) -> np.ndarray:
    """Tight crop to the foreground (+ margin), then clipped additive Gaussian noise."""
    fg = clean < _FG_THRESHOLD
    rows = np.flatnonzero(fg.any(axis=1))
    cols = np.flatnonzero(fg.any(axis=0))
    if rows.size == 0:
        return np.full((2 * _MARGIN + 1, 2 * _MARGIN + 1), 255, np.uint8)
    H, W = clean.shape
    r0, r1 = max(rows[0] - _MARGIN, 0), min(rows[-1] + _MARGIN + 1, H)
    c0, c1 = max(cols[0] - _MARGIN, 0), min(cols[-1] + _MARGIN + 1, W)
    img = clean[r0:r1, c0:c1]
    if noise > 0 and rng is not None:
        n = np.clip(rng.standard_normal(img.shape), -2.5, 2.5) * noise
        img = img + n
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class _CellStyle:
    condensation: float  # length factor shared by the cell
    light: float  # grey of pale bands
    dark: float  # grey of dark bands
    noise: float
    blur: float


def _random_style(rng: np.random.Generator) -> _CellStyle:
    return _CellStyle(
        condensation=float(rng.uniform(0.85, 1.15)),
        light=float(rng.uniform(120.0, 175.0)),
        dark=float(rng.uniform(15.0, 55.0)),
        noise=float(rng.uniform(2.0, 6.0)),
        blur=float(rng.uniform(0.5, 1.2)),
    )


def _render(
    chromosome: str,
    rng: np.random.Generator,
    style: _CellStyle,
    *,
    angle: float | None,
    bend: float | None,
    scale: float,
    noise: float | None,
    blur: float | None,
    cell: str,
    copy: int,
) -> SyntheticChromosome:
    if chromosome not in TYPES:
        raise ValueError(f"unknown chromosome {chromosome!r}")
    rel, ci = RELATIVE_LENGTH[chromosome], CENTROMERE_INDEX[chromosome]
    # Draw every random quantity in a fixed order, whatever is overridden, so that the
    # same rng state gives the same chromosome for any explicit angle / bend / noise.
    r_angle = float(rng.uniform(0.0, 360.0))
    r_is_bent = bool(rng.random() < 0.3)
    r_bend = float(rng.uniform(0.25, 1.0) * rng.choice([-1.0, 1.0]))
    bend_kind = int(rng.choice(3, p=[0.5, 0.2, 0.3]))
    bend_pos = float(rng.uniform(0.3, 0.7))
    len_jit = float(rng.normal(1.0, 0.04))
    wid_jit = float(rng.normal(1.0, 0.04))
    constriction = float(rng.uniform(0.2, 0.35))
    amps = rng.normal(0.0, 0.025, size=3)
    phases = rng.uniform(0, 2 * np.pi, size=3)
    light = style.light + float(rng.normal(0.0, 4.0))
    dark = style.dark + float(rng.normal(0.0, 4.0))
    r_noise = style.noise * float(rng.uniform(0.85, 1.15))
    r_blur = style.blur * float(rng.uniform(0.9, 1.1))
    edges, darkness = _band_pattern(chromosome)
    e_jit = rng.normal(0.0, 0.12, size=len(edges))
    d_jit = rng.normal(0.0, 0.06, size=len(darkness))
    tex_amp = float(rng.uniform(0.15, 0.3))

    angle = r_angle if angle is None else float(angle) % 360.0
    if bend is None:
        bend = r_bend if r_is_bent else 0.0
    bend = float(bend)
    noise = r_noise if noise is None else float(noise)
    blur = r_blur if blur is None else float(blur)

    length = (_LEN_PER_UNIT * rel + _LEN_OFFSET) * style.condensation * len_jit * scale
    width = (13.5 + 0.2 * rel) * style.condensation ** -0.4 * wid_jit * scale
    spacing = 1.3 * scale
    field = rng.standard_normal((int((length + 4.0) / spacing) + 3, int(2 * width / spacing) + 3))
    field = cv2.GaussianBlur(field, (0, 0), 0.7, borderType=cv2.BORDER_REFLECT)
    field /= max(float(field.std()), 1e-6)
    # shorter chromosomes bend less
    bend = bend * min(1.0, length / (60.0 * scale))

    # per-instance band jitter (interior edges move by a fraction of the local band width)
    widths = np.diff(edges)
    local = np.minimum(np.concatenate([[widths[0]], widths]), np.concatenate([widths, [widths[-1]]]))
    new_edges = edges + e_jit * local
    new_edges[0], new_edges[-1] = 0.0, 1.0
    new_edges = np.maximum.accumulate(new_edges)
    new_dark = np.clip(darkness + d_jit, 0.0, 1.0)

    clean, _ = _render_upright(
        length,
        width,
        ci,
        (new_edges, new_dark),
        light=light,
        dark=dark,
        angle=angle,
        bend=bend,
        bend_kind=bend_kind,
        bend_pos=bend_pos,
        width_var=(amps, phases),
        constriction=constriction,
        texture=(field, spacing, tex_amp),
        blur=blur,
    )
    image = _crop_and_noise(clean, noise, rng)
    return SyntheticChromosome(
        image=image, chromosome=chromosome, angle=angle, cell=cell, copy=int(copy), bent=bend != 0.0
    )


# --- public API -----------------------------------------------------------------------


def render_chromosome(
    chromosome: str,
    rng: np.random.Generator,
    *,
    angle: float | None = None,
    bend: float | None = None,
    scale: float = 1.0,
    noise: float | None = None,
    blur: float | None = None,
    cell: str = "syn0000",
    copy: int = 0,
) -> SyntheticChromosome:
    """Render one synthetic chromosome of type ``chromosome`` ('1'..'22', 'X', 'Y').

    angle: CCW degrees applied to the p-up rendering (None: uniform in [0, 360)).
    bend: signed curvature amount, 0 = straight, |bend| ~ 1 = strongly bent (None: ~30 %
    bent).  noise: sigma of additive Gaussian noise in grey levels (None: random 2-6;
    0: none).  blur: Gaussian sigma in px (None: random 0.5-1.2; 0: none).
    scale: multiplies all sizes.  Cell-level style (condensation, contrast) is drawn from
    ``rng`` here; ``make_cell`` shares it across a metaphase.
    """
    style = _random_style(rng)
    return _render(
        chromosome, rng, style, angle=angle, bend=bend, scale=scale, noise=noise, blur=blur,
        cell=cell, copy=copy,
    )


def upright(chromosome: str, rng: np.random.Generator, **kw) -> np.ndarray:
    """The same rendering as ``render_chromosome`` with angle=0 (vertical, p up); image only."""
    kw["angle"] = 0.0
    return render_chromosome(chromosome, rng, **kw).image


def make_cell(
    cell: str, rng: np.random.Generator, *, scale: float = 1.0, male: bool | None = None
) -> list[SyntheticChromosome]:
    """One metaphase: 46 chromosomes (pairs of 1..22 plus XX or XY).

    Condensation (length factor), staining contrast, noise and blur levels are shared by
    the cell (with small per-chromosome jitter); each chromosome gets its own angle/bend.
    """
    is_male = bool(rng.random() < 0.5)
    if male is not None:
        is_male = bool(male)
    style = _random_style(rng)
    out: list[SyntheticChromosome] = []
    for name in TYPES[:22]:
        for copy in (0, 1):
            out.append(_render(name, rng, style, angle=None, bend=None, scale=scale, noise=None,
                               blur=None, cell=cell, copy=copy))
    sex = ("X", "Y") if is_male else ("X", "X")
    for copy, name in enumerate(sex):
        out.append(_render(name, rng, style, angle=None, bend=None, scale=scale, noise=None,
                           blur=None, cell=cell, copy=copy))
    return out


def make_dataset(n_cells: int, seed: int = 0, *, scale: float = 1.0) -> list[SyntheticChromosome]:
    """``n_cells`` metaphases 'syn0000', 'syn0001', ... (46 chromosomes each), deterministic.

    Each cell uses its own generator seeded by (seed, cell index), so cell k is the same
    whatever ``n_cells`` is.
    """
    out: list[SyntheticChromosome] = []
    for k in range(n_cells):
        rng = np.random.default_rng([int(seed), k])
        out.extend(make_cell(f"syn{k:04d}", rng, scale=scale))
    return out
