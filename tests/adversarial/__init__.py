"""The adversarial corpus: hostile names, concurrent runs, kills, symlinks, tampering.

Every test here reproduces an attack or an accident that once got through; none may be
removed or weakened, so no later change brings the hole back.
"""
