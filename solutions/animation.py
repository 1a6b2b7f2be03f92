"""Matplotlib animations that play in a static, offline HTML page.

``FuncAnimation.to_jshtml()`` links Font Awesome from a CDN for its player
buttons, so offline (or behind a strict content policy) the buttons come out
blank and the page makes a request to another host. :func:`offline_jshtml`
drops that link and draws the buttons with plain Unicode symbols instead.
"""

from __future__ import annotations

import re

from matplotlib.animation import Animation

__all__ = ["offline_jshtml"]

# Font Awesome icon classes used by matplotlib's HTML player, and a stand-in from
# blocks (arrows, geometric shapes) that common fonts such as DejaVu cover.
_ICONS = {
    "fa fa-play fa-flip-horizontal": "\u25c0",  # reverse play
    "fa fa-fast-backward": "\u21e4",  # arrows: fonts without U+23EE-23F8 still draw them
    "fa fa-step-backward": "\u25c1",
    "fa fa-step-forward": "\u25b7",
    "fa fa-fast-forward": "\u21e5",
    "fa fa-play": "\u25b6",
    "fa fa-pause": "\u2016",
    "fa fa-minus": "\u2212",
    "fa fa-plus": "+",
}

_LINK = re.compile(r"<link[^>]*font-awesome[^>]*>", re.S)


def offline_jshtml(anim: Animation, **kwargs: object) -> str:
    """HTML/JavaScript player for ``anim`` with no request to another host.

    Parameters
    ----------
    anim : matplotlib.animation.Animation
        The animation to render.
    **kwargs
        Passed to ``anim.to_jshtml``.

    Returns
    -------
    str
        The player's HTML, frames embedded as base64 images.
    """
    html = _LINK.sub("", anim.to_jshtml(**kwargs))
    for icon, symbol in _ICONS.items():
        html = html.replace(f'<i class="{icon}"></i>', f'<span aria-hidden="true">{symbol}</span>')
    if "font-awesome" in html or 'class="fa ' in html:
        raise RuntimeError("matplotlib's player markup changed: update solutions.animation")
    return html
