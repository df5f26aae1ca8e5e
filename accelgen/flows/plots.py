"""matplotlib, headless: one place that opens a figure and turns it into deterministic PNG bytes."""

import io

__all__ = ["figure", "png_bytes"]


def figure(**options):
    """``(figure, axes)`` on the Agg backend (no display needed)."""
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib import pyplot

    return pyplot.subplots(**options)


def png_bytes(fig) -> bytes:
    """The figure as PNG (no software-version metadata), then closed."""
    from matplotlib import pyplot

    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", metadata={"Software": None})
    pyplot.close(fig)
    return buffer.getvalue()
