"""What users hand in: parameters (the one table), scenario and experiment files (with their
factors), months, reference data about the authorities and departments, errors, and safe file
I/O. Every input file is read by `toml_file.read_toml` (or its two halves), which applies the
same limits and the same one-line errors to each kind of file.

The bottom layer: nothing here imports the model, sweeps, analysis or the view.
"""
