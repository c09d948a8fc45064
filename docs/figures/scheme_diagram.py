"""Draw docs/figures/scheme.png: the Ray scheme's workers, links and update stages.

python docs/figures/scheme_diagram.py   # rewrites docs/figures/scheme.png
"""

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "scheme.png")
COLLECT, GRAD, UPDATE, BUNDLE = "#cfe2f3", "#d9ead3", "#fce5cd", "#f3f3f3"


def box(ax, x, y, w, h, text, color, size=9, style="round,pad=0.02"):
    ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle=style, fc=color, ec="#444444", lw=1))
    ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=size)


def arrow(ax, start, end, text="", color="#333333", dashed=False, offset=(0, 0.12), rad=0.0):
    ax.add_patch(
        FancyArrowPatch(
            start, end, arrowstyle="-|>", mutation_scale=12, color=color, lw=1.3,
            linestyle="--" if dashed else "-", connectionstyle=f"arc3,rad={rad}",
        )
    )  # fmt: skip
    if text:
        mid = ((start[0] + end[0]) / 2 + offset[0], (start[1] + end[1]) / 2 + offset[1])
        ax.text(*mid, text, ha="center", va="center", fontsize=7.5, color=color)


def draw_panel(ax, decentralised: bool):
    ax.set_xlim(0, 10)
    ax.set_ylim(0, 7)
    ax.axis("off")
    title = "decentralised update (all-reduce)" if decentralised else "central update"
    ax.set_title(f"update_stage = {title}", fontsize=11)
    for g, y0 in enumerate((3.9, 0.5)):
        # The placement-group bundle of gradient worker g and its collection workers.
        box(ax, 0.2, y0 - 0.25, 6.1, 2.75, "", BUNDLE, style="round,pad=0.05")
        ax.text(0.35, y0 + 2.3, f"placement bundle {g}", fontsize=7, color="#666666")
        for k in range(2):
            c = 2 * g + k
            cy = y0 + 1.15 - 1.1 * k + 0.05
            box(
                ax,
                0.5,
                cy,
                2.2,
                0.85,
                f"collection worker C{c}\nB_w envs + policy copy",
                COLLECT,
                7.5,
            )
            arrow(ax, (2.75, cy + 0.42), (3.95, y0 + 1.0), "rollout [T, B_w]\n(valid mask, versions)"
                  if k == 0 else "", offset=(0.35, 0.45))  # fmt: skip
        box(ax, 4.0, y0 + 0.55, 2.1, 1.0, f"gradient worker G{g}\nloss -> gradient", GRAD, 8)
        if decentralised:
            ax.text(5.05, y0 + 0.35, "applies the reduced\ngradient itself", ha="center",
                    va="top", fontsize=6.5)  # fmt: skip
    if decentralised:
        arrow(ax, (5.05, 3.9 + 0.55), (5.05, 0.5 + 1.55), "", "#b45f06")
        arrow(ax, (5.25, 0.5 + 1.55), (5.25, 3.9 + 0.55), "", "#b45f06")
        ax.text(6.5, 3.2, "all-reduce\n(gloo / NCCL,\nacross nodes)", fontsize=8, color="#b45f06")
        box(ax, 7.6, 2.6, 2.2, 1.6, "driver\nlogs, snapshots\n(copies G0's state)", UPDATE, 8)
        arrow(ax, (6.15, 4.9), (7.6, 3.7), "reports", dashed=True, offset=(0.1, 0.2))
        arrow(ax, (6.15, 1.5), (7.6, 3.0), "reports", dashed=True, offset=(0.1, -0.2))
        weights = "new weights: one ray.put per\nversion, by each G, for its C's"
    else:
        box(ax, 7.6, 2.6, 2.2, 1.6, "central learner\n(driver): average,\nclip, apply", UPDATE, 8)
        arrow(ax, (6.15, 5.0), (7.6, 3.8), "gradient", offset=(0.0, 0.25))
        arrow(ax, (6.15, 1.5), (7.6, 2.9), "gradient", offset=(0.0, -0.25))
        weights = "new weights: one ray.put per\nversion, passed on by G to its C's"
    ax.text(8.7, 1.45, weights, ha="center", fontsize=7, color="#1155cc")
    if decentralised:  # each gradient worker publishes its own weights to its collectors
        for y0 in (3.9, 0.5):
            arrow(ax, (4.6, y0 + 0.55), (2.75, y0 + 0.1), "", "#1155cc", dashed=True, rad=-0.3)
    else:
        arrow(ax, (8.3, 2.6), (2.7, 0.35), "", "#1155cc", dashed=True, rad=-0.15)
    ax.text(1.0, 6.75, "collection link: sync (gather all, straggler pre-emption) | async",
            fontsize=7.5)  # fmt: skip
    ax.text(5.9, 6.75, "update link: sync | async", fontsize=7.5)


def main():
    fig, axes = plt.subplots(1, 2, figsize=(15, 6.2))
    draw_panel(axes[0], decentralised=False)
    draw_panel(axes[1], decentralised=True)
    fig.suptitle(
        "rlpyt's scheme on Ray (SchemeRl): N = 4 collection workers, M = 2 gradient workers",
        fontsize=12,
    )
    fig.tight_layout()
    fig.savefig(OUT, dpi=110)
    print(OUT)


if __name__ == "__main__":
    main()
