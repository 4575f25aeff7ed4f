"""Quality control of a processed batch: automated checks, inspection sampling, report.

Modules:
* `checks`       -- the automated checks (DA/T 70-2018 items, DA/T 31-2017 image clauses)
* `measure`      -- page measurements from masters and PDF page images (worker processes)
* `imagequality` -- the image measurements themselves (blur, colour, skew, duplicates)
* `sampling`     -- ISO 2859-1 / DA/T 31 ratio plans, seeded sample, decisions, lot verdict
* `run`          -- `run_qc`: checks + sample + decisions + verdict, files in OUT/qc/, journal event
* `report`       -- the HTML report

OUT/qc/report.json carries ``verdict`` ("pass", "fail" or "pending") for the hand-off.
"""
