"""Data shipped with suratbot: the example roster and a maker of small concept-letter PDFs."""
