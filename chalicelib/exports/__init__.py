"""Exports: a task's annotations out as GeoJSON folders, label masks and COCO, built in pages
by a queue worker (jobs: records and queueing; worker: the pages; formats, raster, agreement,
archive: what goes into the ZIP and how it is written)."""
