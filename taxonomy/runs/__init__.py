"""What builds on a written run: the run directory's format, placing new papers, updates, lineage, time.

:mod:`.rundir` owns the run directory (its files, how they are written and read back);
:mod:`.assign` places new papers with the fit's rule, on the engine :mod:`.distributed`
runs; :mod:`.update` adds papers and new topics; :mod:`.lineage` keeps ids and names
across refits; :mod:`.timeline` counts topics over time.
"""
