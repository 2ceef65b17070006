"""Everything that drives Copier: its task and migration steps run inside a render."""
