"""The web application (`digitize serve`): search, documents, QC review; see `digitize.web.app`."""
