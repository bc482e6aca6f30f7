"""Low-level kernels shared by the corruption families, each equal to the library step it ports.

``common``: Gaussian filter, HSV, ImageMagick's motion blur, clipped zoom, spatter's water;
``noise``: Gaussian, speckle and shot noise; ``draws``: numpy's PCG64 draws, compiled;
``ndimage``: scipy.ndimage's filters and zooms; ``pil``: Pillow's affine transform;
``fused``: per-pixel arithmetic of several corruptions in one pass.
"""
