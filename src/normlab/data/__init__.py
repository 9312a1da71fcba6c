"""Generic data plumbing shared by every task family: the prepared-data cache, the table of download
sources, text and binarization helpers, and the one "missing input" error. Nothing here knows a dataset."""
