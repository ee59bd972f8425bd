"""The lab files: built-in labs, their loading and strict validation, check parameters.

Owns: ``spec`` (``LabSpec``, ``load_lab``, the lab TOML's validation), ``params`` (each
check's parameters, their defaults and help: the lab file's schema) and the built-in lab files
(``tp6.toml``, ``tp6bis.toml``) beside them. May import engine (the build bounds' defaults),
errors, facts.
"""
