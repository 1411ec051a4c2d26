"""Data: MLQE-PE and round-trip readers, corruptors, the data set build and its card."""
