"""What users hand in: parameters (the one table), scenario and experiment files, months,
reference data about the authorities and departments, errors, and safe file I/O.

The bottom layer: nothing here imports the model, sweeps, analysis or the view.
"""
