# ruff: noqa: B007  (a transcription keeps the reference's unused loop variables)
"""Transcription of the C-bar corruptions, for fidelity tests and the speed benchmark.

Not ipmix code: facebookresearch/augmentation-corruption ``imagenet_c_bar/corrupt.py`` (the ten
ImageNet-C-bar and ten CIFAR-10-C-bar transforms), ``imagenet_c_bar/utils/image.py`` and the
``PerlinNoiseGenerator`` (``experiments/overlap/augmentations/utils/noise.py``), restated as
literally as possible: pixel-by-pixel Python kernels. Departures, all forced or mechanical: the
global ``np.random`` calls are calls on a ``numpy.random.Generator`` passed in, and the inner
``np.random.RandomState(seed)`` streams are ``np.random.default_rng(seed)`` (the seed drawn as
the reference draws it); ``np.int`` is ``int``. Each ``Transform`` is a function
``(image, level, rng, im_size) -> uint8 image``.
"""

from __future__ import annotations

import numpy as np
from scipy.fftpack import ifft2
from scipy.ndimage import gaussian_filter, rotate, zoom
from skimage.draw import line_aa


def float_parameter(level, maxval):
    return float(level) * maxval / 10.0


def smoothstep(low, high, x):
    x = np.clip(x, low, high)
    x = (x - low) / (high - low)
    return np.clip(3 * (x**2) - 2 * (x**3), 0, 1)


def bilinear_interpolation(image, point):
    l = int(np.floor(point[0]))
    u = int(np.floor(point[1]))
    r, d = l + 1, u + 1
    inside = lambda a, b: a >= 0 and a < image.shape[0] and b >= 0 and b < image.shape[1]  # noqa: E731
    lu = image[l, u, :] if inside(l, u) else np.array([0, 0, 0])
    ld = image[l, d, :] if inside(l, d) else np.array([0, 0, 0])
    ru = image[r, u, :] if inside(r, u) else np.array([0, 0, 0])
    rd = image[r, d, :] if inside(r, d) else np.array([0, 0, 0])
    al = lu * (1.0 - point[1] + u) + ld * (1.0 - d + point[1])
    ar = ru * (1.0 - point[1] + u) + rd * (1.0 - d + point[1])
    return al * (1.0 - point[0] + l) + ar * (1.0 - r + point[0])


class PerlinNoiseGenerator:
    def __init__(self, random_state):
        self.rand = random_state
        B = 256
        N = 16 * 256

        def normalize(arr):
            return arr / np.linalg.norm(arr)

        self.p = np.arange(2 * B + 2)
        self.g = np.array(
            [normalize((random_state.integers(0, 2**31, size=2) % (2 * B) - B) / B) for i in range(2 * B + 2)]
        )
        for i in np.arange(B - 1, -1, -1):
            k = self.p[i]
            j = self.rand.integers(0, 2**31) % B
            self.p[i] = self.p[j]
            self.p[j] = k
        for i in range(B + 2):
            self.p[B + i] = self.p[i]
            self.g[B + i, :] = self.g[i, :]
        self.B = B
        self.N = N

    @staticmethod
    def s_curve(t):
        return t**2 * (3.0 - 2.0 * t)

    def noise(self, x, y):
        t = x + self.N
        bx0 = int(t) % self.B
        bx1 = (bx0 + 1) % self.B
        rx0 = t % 1
        rx1 = rx0 - 1.0
        t = y + self.N
        by0 = int(t) % self.B
        by1 = (by0 + 1) % self.B
        ry0 = t % 1
        ry1 = ry0 - 1.0
        i = self.p[bx0]
        j = self.p[bx1]
        b00 = self.p[i + by0]
        b10 = self.p[j + by0]
        b01 = self.p[i + by1]
        b11 = self.p[j + by1]
        sx = PerlinNoiseGenerator.s_curve(rx0)
        sy = PerlinNoiseGenerator.s_curve(ry0)
        u = rx0 * self.g[b00, 0] + ry0 * self.g[b00, 1]
        v = rx1 * self.g[b10, 0] + ry0 * self.g[b10, 1]
        a = u + sx * (v - u)
        u = rx0 * self.g[b01, 0] + ry1 * self.g[b01, 1]
        v = rx1 * self.g[b11, 0] + ry1 * self.g[b11, 1]
        b = u + sx * (v - u)
        return 1.5 * (a + sy * (b - a))

    def turbulence(self, x, y, octaves):
        t = 0.0
        f = 1.0
        while f <= octaves:
            t += np.abs(self.noise(f * x, f * y)) / f
            f = f * 2
        return t


def single_frequency_greyscale(image, level, rng, im_size):
    freq_mag = rng.uniform(low=-np.pi, high=np.pi)
    freq_2 = rng.uniform(low=-abs(freq_mag), high=abs(freq_mag))
    freq = np.array([freq_mag, freq_2])[rng.permutation(2)]
    phase = rng.uniform(low=0, high=2 * np.pi)
    intensity = float_parameter(level, 196)
    noise = np.array(
        [[np.sin(x * freq[0] + y * freq[1] + phase) for x in range(im_size)] for y in range(im_size)]
    )
    noise = np.stack((noise, noise, noise), axis=2)
    return np.clip(image + intensity * noise, 0, 255).astype(np.uint8)


def cocentric_sine_waves(image, level, rng, im_size):
    offset = rng.uniform(low=0, high=im_size, size=2)
    freq = rng.uniform(low=0, high=10)
    amplitude = rng.uniform(low=0, high=im_size / 10)
    ring_width = rng.uniform(low=0, high=im_size / 10)
    intensity = [float_parameter(level, 128) for i in range(3)]

    def calc_intensity(x, y, x0, y0, freq, amplitude, ring_width):
        angle = np.arctan2(x - x0, y - y0) * freq
        distance = (
            (np.sqrt((x - x0) ** 2 + (y - y0) ** 2) + np.sin(angle) * amplitude) % ring_width
        ) / ring_width
        distance -= 1 / 2
        return distance

    noise = np.array(
        [
            [calc_intensity(x, y, offset[0], offset[1], freq, amplitude, ring_width) for x in range(im_size)]
            for y in range(im_size)
        ]
    )
    noise = np.stack((intensity[0] * noise, intensity[1] * noise, intensity[2] * noise), axis=2)
    return np.clip(image + noise, 0, 255).astype(np.uint8)


def plasma_noise(image, level, rng, im_size):
    time = rng.uniform(low=0.0, high=6 * np.pi)
    iterations = rng.integers(low=4, high=7)
    sharpness = rng.uniform(low=0.5, high=1.0)
    scale = rng.uniform(low=0.075, high=0.2) * im_size
    intensity = float_parameter(level, 64)

    def kernel(x, y, rand, iters, sharp, scale):
        x /= scale
        y /= scale
        i = np.array([1.0, 1.0, 1.0, 0.0])
        for s in range(iters):
            r = (
                np.array([np.cos(y * i[0] - i[3] + rand / i[1]), np.sin(x * i[0] - i[3] + rand / i[1])])
                / i[2]
            )
            r += np.array([-r[1], r[0]]) * 0.3
            x += r[0]
            y += r[1]
            i *= np.array([1.93, 1.15, (2.25 - sharp), rand * i[1]])
        r = np.sin(x - rand)
        b = np.sin(y + rand)
        g = np.sin((x + y + np.sin(rand)) * 0.5)
        return [r, g, b]

    noise = np.array(
        [[kernel(x, y, time, iterations, sharpness, scale) for x in range(im_size)] for y in range(im_size)]
    )
    return np.clip((1 - intensity / 255) * image + intensity * noise, 0, 255).astype(np.uint8)


def perlin_noise(image, level, rng, im_size):
    m = np.array([[1, 0], [0, 1]]) / (32 * im_size / 224)
    turbulence = 16.0
    gain = 0.5
    bias = 0.5
    alpha = float_parameter(level, 0.50)
    seed = rng.integers(low=0, high=2**32)
    noise = PerlinNoiseGenerator(np.random.default_rng(seed))

    def kernel(point, m, turbulence, gain, bias):
        npoint = np.matmul(point, m)
        f = noise.turbulence(npoint[0], npoint[1], turbulence)
        f = gain * f + bias
        return np.clip(np.array([f, f, f]), 0, 1.0)

    noise_image = np.array(
        [
            [kernel(np.array([y, x]), m, turbulence, gain, bias) for x in range(im_size)]
            for y in range(im_size)
        ]
    )
    out = (1 - alpha) * image.astype(np.float32) + 255 * alpha * noise_image
    return np.clip(out, 0, 255).astype(np.uint8)


def _spectral(random_state, im_size, power):
    phases = random_state.uniform(low=0, high=2 * np.pi, size=(im_size, im_size // 2))
    phases = np.concatenate((phases, phases[::-1, ::-1]), axis=1)
    fourier_space_noise = power * (np.cos(phases) + np.sin(phases) * 1j)
    fourier_space_noise = np.roll(fourier_space_noise, im_size // 2, axis=0)
    fourier_space_noise = np.roll(fourier_space_noise, im_size // 2, axis=1)
    noise = np.real(ifft2(fourier_space_noise))
    return noise / np.std(noise)


def brownish_noise(image, level, rng, im_size):
    seed = rng.integers(low=0, high=2**32)
    intensity = float_parameter(level, 64)
    random_state = np.random.default_rng(seed)
    center = im_size / 2
    power = np.array(
        [
            [1 / (np.linalg.norm(np.array([x, y]) - center) ** 2 + 1) for x in range(im_size)]
            for y in range(im_size)
        ]
    )
    noise = np.stack([_spectral(random_state, im_size, power) for i in range(3)], axis=2)
    return np.clip(image + intensity * noise, 0, 255).astype(np.uint8)


def blue_noise_sample(image, level, rng, im_size):
    seed = rng.integers(low=0, high=2**32)
    threshold = float_parameter(level, 3.0) - 2.5
    random_state = np.random.default_rng(seed)
    center = im_size / 2
    power = np.array(
        [[np.linalg.norm(np.array([x, y]) - center) for x in range(im_size)] for y in range(im_size)]
    )
    noise = _spectral(random_state, im_size, power)
    mask = noise > threshold
    out = image * mask.reshape(im_size, im_size, 1)
    return np.clip(out, 0, 255).astype(np.uint8)


def _sparkle_kernel(point, value, center, radius, ray_lengths, amount, color, inverse):
    rays = len(ray_lengths)
    dp = point - center
    dist = np.linalg.norm(dp)
    angle = np.arctan2(dp[1], dp[0])
    d = (angle + np.pi) / (2 * np.pi) * rays
    i = int(d)
    f = d - i
    if radius != 0:
        length = ray_lengths[i % rays] + f * (ray_lengths[(i + 1) % rays] - ray_lengths[i % rays])
        g = length**2 / (dist**2 + 1e-4)
        g = g ** ((100 - amount) / 50.0)
        f -= 0.5
        f = 1 - f**2
        f *= g
    f = np.clip(f, 0, 1)
    return color + f * (value - color) if inverse else value + f * (color - value)


def sparkles(image, level, rng, im_size):
    centers = rng.uniform(low=0, high=im_size, size=(5, 2))
    radii = np.array([float_parameter(level, 0.1) for i in range(5)]) * im_size
    amounts = np.array([50 for i in range(5)])
    color = np.array([255, 255, 255])
    randomness = 25
    seed = rng.integers(low=0, high=2**32)
    nrays = rng.integers(low=50, high=200, size=5)
    random_state = np.random.default_rng(seed)
    for center, rays, amount, radius in zip(centers, nrays, amounts, radii, strict=True):
        ray_lengths = [
            max(1, radius + randomness / 100.0 * radius * random_state.standard_normal()) for i in range(rays)
        ]
        image = np.array(
            [
                [
                    _sparkle_kernel(
                        np.array([y, x]), image[y, x, :].astype(np.float32), center, radius, ray_lengths,
                        amount, color, False,
                    )
                    for x in range(im_size)
                ]
                for y in range(im_size)
            ]
        )  # fmt: skip
    return np.clip(image, 0, 255).astype(np.uint8)


def inverse_sparkles(image, level, rng, im_size):
    center = rng.uniform(low=0.25, high=0.75, size=2) * im_size
    radius = 0.25 * im_size
    amount = 100 - float_parameter(level, 65)
    color = np.array([255, 255, 255])
    randomness = 25
    seed = rng.integers(low=0, high=2**32)
    rays = rng.integers(low=50, high=200)
    random_state = np.random.default_rng(seed)
    ray_lengths = [radius + randomness / 100.0 * radius * random_state.standard_normal() for i in range(rays)]
    out = np.array(
        [
            [
                _sparkle_kernel(
                    np.array([y, x]), image[y, x, :].astype(np.float32), center, radius, ray_lengths, amount,
                    color, True,
                )
                for x in range(im_size)
            ]
            for y in range(im_size)
        ]
    )  # fmt: skip
    return np.clip(out, 0, 255).astype(np.uint8)


def checkerboard_cutout(image, level, rng, im_size):
    angle = rng.uniform(low=0, high=2 * np.pi)
    scales = np.maximum(rng.uniform(low=0.1, high=0.25) * im_size, 1)
    scales = (scales, scales)
    fraction = float_parameter(level, 1.0)
    seed = rng.integers(low=0, high=2**32)
    random_state = np.random.default_rng(seed)
    grid = (
        random_state.uniform(size=(int(4 * im_size // scales[0]), int(4 * im_size // scales[1]))) < fraction
    )

    def mask_kernel(point, scales, angle, grid):
        nx = (np.cos(angle) * point[0] + np.sin(angle) * point[1]) / scales[0]
        ny = (-np.sin(angle) * point[0] + np.cos(angle) * point[1]) / scales[1]
        return (int(nx % 2) != int(ny % 2)) or not grid[int(nx), int(ny)]

    out = np.array(
        [
            [
                image[y, x, :] if mask_kernel([y, x], scales, angle, grid) else np.array([128, 128, 128])
                for x in range(im_size)
            ]
            for y in range(im_size)
        ]
    )
    return np.clip(out, 0, 255).astype(np.uint8)


def lines(image, level, rng, im_size):
    length = 1.0
    density = float_parameter(level, 1.0)
    angle = rng.uniform(low=0.0, high=2 * np.pi)
    angle_variation = rng.uniform(low=0.1, high=1.0)
    seed = rng.integers(low=0, high=2**32)
    num_lines = int(density * im_size)
    l = length * im_size
    random_state = np.random.default_rng(seed)
    out = image.copy()
    for i in range(num_lines):
        x = im_size * random_state.uniform()
        y = im_size * random_state.uniform()
        a = angle + 2 * np.pi * angle_variation * (random_state.uniform() - 0.5)
        s = np.sin(a) * l
        c = np.cos(a) * l
        x1 = int(x - c)
        x2 = int(x + c)
        y1 = int(y - s)
        y2 = int(y + s)
        rxc, ryc, rval = line_aa(x1, y1, x2, y2)
        xc, yc, val = [], [], []
        for rx, ry, rv in zip(rxc, ryc, rval, strict=True):
            if rx >= 0 and ry >= 0 and rx < im_size and ry < im_size:
                xc.append(rx)
                yc.append(ry)
                val.append(rv)
        xc, yc, val = np.array(xc, dtype=int), np.array(yc, dtype=int), np.array(val)
        out[xc, yc, :] = (1.0 - val.reshape(-1, 1)) * out[xc, yc, :].astype(np.float32) + val.reshape(
            -1, 1
        ) * 128
    return out.astype(np.uint8)


def pinch_and_twirl(image, level, rng, im_size):
    num_per_axis = 5 if im_size == 224 else 3
    angles = np.array(
        [rng.choice([1, -1]) * float_parameter(level, np.pi / 2) for i in range(num_per_axis**2)]
    ).reshape(num_per_axis, num_per_axis)
    amount = float_parameter(level, 0.4) + 0.1

    def warp_kernel(point, center, radius, amount, angle):
        dx = point[0] - center[0]
        dy = point[1] - center[1]
        dist = np.linalg.norm(point - center)
        if dist > radius or np.round(dist, 3) == 0.0:
            return point
        d = dist / radius
        t = np.sin(np.pi * 0.5 * d) ** (-amount)
        dx *= t
        dy *= t
        e = 1 - d
        a = angle * (e**2)
        return center + np.array([dx * np.cos(a) - dy * np.sin(a), dx * np.sin(a) + dy * np.cos(a)])

    out = image.copy().astype(np.float32)
    grid_size = im_size // num_per_axis
    radius = grid_size / 2
    for i in range(num_per_axis):
        for j in range(num_per_axis):
            l, r = i * grid_size, (i + 1) * grid_size
            u, d = j * grid_size, (j + 1) * grid_size
            center = np.array([u + radius, l + radius])
            out[u:d, l:r, :] = np.array(
                [
                    [
                        bilinear_interpolation(
                            out, warp_kernel(np.array([y, x]), center, radius, amount, angles[i, j])
                        )
                        for x in np.arange(l, r)
                    ]
                    for y in np.arange(u, d)
                ]
            )
    return np.clip(out, 0, 255).astype(np.uint8)


def ripple(image, level, rng, im_size):
    amplitudes = np.array([float_parameter(level, 0.025) for i in range(2)]) * im_size
    wavelengths = rng.uniform(low=0.1, high=0.3, size=2) * im_size
    phases = rng.uniform(low=0, high=2 * np.pi, size=2)

    def warp_kernel(point, wavelengths, phases, amplitudes):
        return point + amplitudes * np.sin(2 * np.pi * point / wavelengths + phases)

    image = np.array(
        [
            [
                bilinear_interpolation(image, warp_kernel(np.array([y, x]), wavelengths, phases, amplitudes))
                for x in range(im_size)
            ]
            for y in range(im_size)
        ]
    )
    return np.clip(image, 0, 255).astype(np.uint8)


def transverse_chromatic_abberation(image, level, rng, im_size):
    scale = float_parameter(level, 0.5)
    scales = np.array([1.0, 1.0 + scale / 2, 1.0 + scale])
    scales = scales[rng.permutation(3)]
    out = image.copy()
    for c in range(3):
        zoomed = zoom(image[:, :, c], scales[c], prefilter=False)
        edge = (zoomed.shape[0] - im_size) // 2
        out[:, :, c] = zoomed[edge : edge + im_size, edge : edge + im_size]
    return out.astype(np.uint8)


def circular_motion_blur(image, level, rng, im_size):
    amount = float_parameter(level, 15)
    num = 21
    factors = []
    rotated = []
    image = image.astype(np.float32) / 255
    for i in range(num):
        angle = (2 * i / (num - 1) - 1) * amount
        rotated.append(rotate(image, angle, reshape=False))
        factors.append(np.exp(-2 * (2 * i / (num - 1) - 1) ** 2))
    out = np.zeros_like(image)
    for i, f in zip(rotated, factors, strict=True):
        out += f * i
    out /= sum(factors)
    return np.clip(out * 255, 0, 255).astype(np.uint8)


def caustic_refraction(image, level, rng, im_size):
    time = rng.uniform(low=0.5, high=2.0)
    size = rng.uniform(low=0.75, high=1.25) * im_size
    eta = 4.0
    lens_scale = float_parameter(level, 0.5 * im_size)
    lighting_amount = float_parameter(level, 2.0)
    softening = 1

    def caustic_noise_kernel(point, time, size):
        point = point / size
        p = (point % 1) * 6.28318530718 - 250
        i = p.copy()
        c = 1.0
        inten = 0.005
        for n in range(5):
            t = time * (1.0 - (3.5 / (n + 1)))
            i = p + np.array([np.cos(t - i[0]) + np.sin(t + i[1]), np.sin(t - i[1]) + np.cos(t + i[0])])
            length = np.sqrt(
                (p[0] / (np.sin(i[0] + t) / inten)) ** 2 + (p[1] / (np.cos(i[1] + t) / inten)) ** 2
            )
            c += 1.0 / length
        c /= 5.0
        c = 1.17 - c**1.4
        color = np.clip(np.abs(c) ** 8.0, 0, 1)
        return np.array([color, color, color])

    def refract(incident, normal, eta):
        if np.abs(np.dot(incident, normal)) >= 1.0 - 1e-3:
            return incident
        angle = np.arccos(np.dot(incident, normal))
        out_angle = np.arcsin(np.sin(angle) / eta)
        out_unrotated = np.array([np.cos(out_angle), np.sin(out_angle), 0.0])
        spectator_dim = np.cross(incident, normal)
        spectator_dim /= np.linalg.norm(spectator_dim)
        orthogonal_dim = np.cross(normal, spectator_dim)
        rotation_matrix = np.stack((normal, orthogonal_dim, spectator_dim), axis=0)
        return np.matmul(np.linalg.inv(rotation_matrix), out_unrotated)

    def luma_at_offset(image, origin, offset):
        inside = (
            origin[0] + offset[0] >= 0
            and origin[0] + offset[0] < image.shape[0]
            and origin[1] + offset[1] >= 0
            and origin[1] + offset[1] < image.shape[1]
        )
        pixel_value = (
            image[origin[0] + offset[0], origin[1] + offset[1], :] if inside else np.array([0.0, 0.0, 0])
        )
        return np.dot(pixel_value, np.array([0.2126, 0.7152, 0.0722]))

    def luma_based_refract(point, image, caustics, eta, lens_scale, lighting_amount):
        north_luma = luma_at_offset(caustics, point, np.array([0, -1]))
        south_luma = luma_at_offset(caustics, point, np.array([0, 1]))
        west_luma = luma_at_offset(caustics, point, np.array([-1, 0]))
        east_luma = luma_at_offset(caustics, point, np.array([1, 0]))
        lens_normal = np.array([east_luma - west_luma, south_luma - north_luma, 1.0])
        lens_normal = lens_normal / np.linalg.norm(lens_normal)
        refract_vector = refract(np.array([0.0, 0.0, 1.0]), lens_normal, eta) * lens_scale
        refract_vector = np.round(refract_vector, 3)
        out_pixel = bilinear_interpolation(image, point + refract_vector[0:2])
        out_pixel += (north_luma - south_luma) * lighting_amount
        out_pixel += (east_luma - west_luma) * lighting_amount
        return np.clip(out_pixel, 0, 1)

    noise = np.array(
        [[caustic_noise_kernel(np.array([y, x]), time, size) for x in range(im_size)] for y in range(im_size)]
    )
    noise = gaussian_filter(noise, sigma=softening)
    image = image.astype(np.float32) / 255
    out = np.array(
        [
            [
                luma_based_refract(np.array([y, x]), image, noise, eta, lens_scale, lighting_amount)
                for x in range(im_size)
            ]
            for y in range(im_size)
        ]
    )
    return np.clip((out * 255).astype(np.uint8), 0, 255)


CBAR = {
    fn.__name__: fn
    for fn in (
        single_frequency_greyscale, cocentric_sine_waves, plasma_noise, perlin_noise, brownish_noise,
        blue_noise_sample, sparkles, inverse_sparkles, checkerboard_cutout, lines, pinch_and_twirl, ripple,
        transverse_chromatic_abberation, circular_motion_blur, caustic_refraction,
    )
}  # fmt: skip
