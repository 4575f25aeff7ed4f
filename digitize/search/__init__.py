"""The archive index and search: catalogue fields and OCR text of every page, with graded access.

* `digitize.search.text`   -- folding, index terms, query terms (what matches what);
* `digitize.search.access` -- 密级 levels, 开放标识, who may see a record;
* `digitize.search.index`  -- the SQLite FTS5 index (ARCHIVE/index.sqlite);
* `digitize.search.build`  -- bring the index up to date with OUT folders (`digitize index`);
* `digitize.search.query`  -- search with filters, clearance, snippets (`digitize search`);
* `digitize.search.highlight` -- boxes of a hit on the page image, from hOCR.
"""
