"""Where data lives: local paths, file:// and object-storage URIs, DVC-tracked paths, and the table
files behind each (the data references of mlgate.yaml and the data flags)."""
