"""gradgrad's plotting package: draws a run's figures from the data files the run wrote, and its report.

    python3 plots RUN_DIR        (what `gradgrad plot RUN_DIR` and every command at its end run)

RUN_DIR/run.json names the kind of run; __main__.py dispatches it to one function of the modules below, which
reads that run's CSV/JSON files through io.py and writes PNGs next to them; report.py then rewrites
report.html to show every PNG and the numbers of metrics.json. Every number comes from the run's files, so a
figure can be restyled and redrawn without recomputing or recompiling anything.

    io.py           the one reader: CSV rows and columns, JSON, points files
    draw.py         drawing pieces shared by the figures (field, attractors, paths, histograms, image grids)
    run.py          datasets, train, visualize, bench
    field.py        gradgrad field: field, basins, convergence, spectra
    field_input.py  gradgrad field over the input plane (2-D data): potential, decoded attractors
    dynamics.py     gradgrad train --track-dynamics: paper 002's Figure 3
    experiments.py  gradgrad ood, probe, sweep
"""
import matplotlib

matplotlib.use("Agg")  # files only, no display: before any module of the package imports pyplot
