"""Quality control of a processed batch: automated checks, inspection sampling, report.

Modules:
* `checks`       -- runs every automated check (DA/T 70-2018 items, DA/T 31-2017 image clauses)
* `data`         -- what the checks read: the journal, the catalogue, the page measurements
* `results`      -- check specifications, results and the collector
* `authenticity`, `integrity`, `usability`, `safety` -- the DA/T 70 四性 items (1-x … 4-x)
* `catalogue`    -- the catalogue's validation and linking findings as check results
* `images`       -- the DA/T 31 image checks
* `measure`      -- page measurements from masters and PDF page images (worker processes)
* `imagequality` -- the image measurements themselves (blur, colour, skew, duplicates)
* `plans`        -- sampling plans: the ISO 2859-1 tables, the DA/T 31 ratio
* `sampling`     -- the seeded sample, the inspectors' decisions, the lot verdict
* `run`          -- `run_qc`: checks + sample + decisions + verdict, files in OUT/qc/, journal event
* `report`       -- the HTML report

OUT/qc/report.json carries ``verdict`` ("pass", "fail" or "pending") for the hand-off.
"""
