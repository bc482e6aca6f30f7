"""Writing perturbation sequences as videos, the file format of the ImageNet-P release.

ImageNet-P stores one H.264 ``.mp4`` per image. Its script (``make_imagenet_p.py``) wrote PNG
frames and ran ``ffmpeg -r 1 -framerate 1 -i img%01d.png -vcodec libx264 -crf 20 -preset
veryslow`` (``-tune grain`` and the default CRF 23 for the noise perturbations): lossy, with
ffmpeg's default 4:4:4 YUV for RGB input. By default we write the same container and codec
family losslessly instead: ``libx264rgb`` with ``qp=0`` on RGB frames, at 1 frame per second,
with PyAV (whose wheels bundle FFmpeg); a decoder (PyAV, OpenCV's ``VideoCapture`` as the
reference's ``video_loader.py`` uses, torchvision) gets back exactly the frames that were
encoded. Lossless videos are large (about 1 to 5 MB for 31 frames at 224 px); ``crf=`` writes
the reference's lossy kind instead (``libx264``, 4:4:4, that CRF, ``-tune grain`` for noise).
"""

from __future__ import annotations

from io import BytesIO

import numpy as np

FRAME_RATE = 1
PRESET = "medium"


class VideoError(ValueError):
    """Frames that cannot be written as a video (wrong shape or dtype)."""


def codec_settings(crf: int | None = None, grain: bool = False) -> dict[str, object]:
    """Codec, pixel format and options: lossless RGB H.264, or the reference's CRF encoding."""
    if crf is None:
        return {"codec": "libx264rgb", "pix_fmt": "rgb24", "options": {"qp": "0", "preset": PRESET}}
    if not 0 <= crf <= 51:
        raise VideoError(f"crf must lie in 0..51 (x264's range), got {crf}")
    options = {"crf": str(crf), "preset": PRESET, **({"tune": "grain"} if grain else {})}
    return {"codec": "libx264", "pix_fmt": "yuv444p", "options": options}


def encode_video(frames: np.ndarray, crf: int | None = None, grain: bool = False) -> bytes:
    """The bytes of an H.264 .mp4 holding uint8 ``[F, H, W, 3]`` RGB `frames`: lossless, or
    with `crf` (and x264's grain tuning) as `codec_settings` says."""
    import av

    frames = np.asarray(frames)
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3 or len(frames) == 0:
        raise VideoError(f"frames must be uint8 [F, H, W, 3] with F >= 1, got {frames.dtype} {frames.shape}")
    settings = codec_settings(crf, grain)
    buffer = BytesIO()
    with av.open(buffer, mode="w", format="mp4") as container:
        stream = container.add_stream(settings["codec"], rate=FRAME_RATE)
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = settings["pix_fmt"]
        stream.options = dict(settings["options"])
        for frame in frames:
            container.mux(
                stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24"))
            )
        container.mux(stream.encode())
    return buffer.getvalue()
