"""The offline animation player: no request to another host, every button labelled."""

import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.animation import FuncAnimation

from solutions.animation import offline_jshtml


def test_player_is_offline_and_keeps_its_buttons():
    fig, ax = plt.subplots()
    (line,) = ax.plot([0, 1], [0, 0])
    anim = FuncAnimation(fig, lambda i: (line.set_ydata([0, i]), line)[1:], frames=3)
    stock = anim.to_jshtml()
    html = offline_jshtml(anim)
    plt.close(fig)
    assert "https://" in stock  # what the helper exists to remove
    assert not re.search(r"https?://", html)
    assert html.count("<button") == stock.count("<button") >= 8
    assert html.count('<span aria-hidden="true">') == stock.count('<i class="fa')
    assert html.count("data:image/png;base64") == stock.count("data:image/png;base64") == 3
