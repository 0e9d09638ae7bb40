"""`predict --explain`: the keyframes a transformer head's <CLS> token attended to most.

For each predicted video, the attention of `cinefeat.fuse.explain` over the rows of each frame
feature (kind `frames` or `clips`) is ranked; the frames at the middle of the top rows' time spans
are decoded by seeking (a handful of frames, not a second pass over the video) and laid out in a
contact sheet PNG with their timestamps and weights, in time order.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cinefeat.cli.heads import ExtractionRecipe, PredictError, TrainedHead
from cinefeat.cli.predict import Prediction

FRAME_KINDS = ("frames", "clips")


def explain_videos(
    result: Prediction,
    head: TrainedHead,
    recipe: ExtractionRecipe,
    out_dir: Path,
    top: int = 8,
) -> dict[str, str]:
    """{video: contact sheet path} for every video predicted ok."""
    from cinefeat.fuse.explain import ExplainError, attention_arrays

    if head.model.open_labels:
        raise PredictError("--explain needs a supervised transformer head (not a zero-shot head)")
    visual = [f for f in head.feature_names if recipe.extractors[f].kind in FRAME_KINDS]
    if not visual:
        raise PredictError(
            f"--explain shows keyframes, but the head's features {head.feature_names} include no "
            "frame feature"
        )
    ok = [v for v in result.videos if v.status == "ok"]
    if not ok:
        return {}
    store = result.store
    arrays, spans = {}, {}
    for feature in head.feature_names:
        dim = recipe.extractors[feature].dim
        rows = [store.get(v.video, feature) if store.has(v.video, feature) else None for v in ok]
        arrays[feature] = [r.values if r is not None else np.zeros((0, dim)) for r in rows]
        spans[feature] = [r.spans if r is not None else np.zeros((0, 2)) for r in rows]
    try:
        weights = attention_arrays(head.model, arrays)
    except ExplainError as error:
        raise PredictError(str(error)) from error
    out_dir.mkdir(parents=True, exist_ok=True)
    sheets = {}
    for index, video in enumerate(ok):
        picks = []
        for feature in visual:
            w = weights.get(feature, [np.zeros(0)] * len(ok))[index]
            for row in np.argsort(-w)[:top]:
                if w[row] > 0:
                    start, end = spans[feature][index][row]
                    picks.append((float(w[row]), feature, (float(start) + float(end)) / 2))
        picks = sorted(picks, reverse=True)[:top]
        if not picks:
            continue
        path = out_dir / f"{_safe_stem(video.video, index)}.attention.png"
        _contact_sheet(Path(video.video), sorted(picks, key=lambda p: p[2]), path, head.model.name)
        sheets[video.video] = str(path)
    return sheets


def frames_at(path: Path, times: list[float], short_side: int = 180) -> list[np.ndarray]:
    """RGB frames nearest after each time (seconds), by keyframe seek + decode forward."""
    import av

    frames = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        base = float(stream.time_base)
        for when in times:
            container.seek(max(0, int(when / base)), stream=stream, backward=True, any_frame=False)
            chosen = None
            for frame in container.decode(stream):
                chosen = frame
                if frame.time is not None and frame.time >= when - 0.5 * base:
                    break
            if chosen is None:
                frames.append(np.zeros((short_side, short_side, 3), np.uint8))
                continue
            scale = short_side / min(chosen.width, chosen.height)
            frames.append(
                chosen.to_ndarray(
                    format="rgb24",
                    width=max(2, round(chosen.width * scale)),
                    height=max(2, round(chosen.height * scale)),
                )
            )
    return frames


def _contact_sheet(
    video: Path, picks: list[tuple[float, str, float]], out: Path, head_name: str
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    images = frames_at(video, [t for _, _, t in picks])
    columns = min(4, len(images))
    rows = (len(images) + columns - 1) // columns
    figure, axes = plt.subplots(rows, columns, figsize=(3.2 * columns, 2.3 * rows + 0.4))
    axes = np.atleast_1d(axes).ravel()
    for axis in axes:
        axis.axis("off")
    for axis, image, (weight, feature, when) in zip(axes, images, picks, strict=False):
        axis.imshow(image)
        axis.set_title(f"{when:.1f} s  {feature}  w={weight:.3f}", fontsize=8)
    figure.suptitle(f"{video.name}: keyframes most attended by <CLS> ({head_name})", fontsize=10)
    figure.tight_layout()
    figure.savefig(out, dpi=100)
    plt.close(figure)


def _safe_stem(video: str, index: int) -> str:
    stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in Path(video).stem)
    return f"{index:03d}-{stem or 'video'}"
