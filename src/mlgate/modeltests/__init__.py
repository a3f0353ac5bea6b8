"""The model test framework: the seed's ten check families as small units."""
