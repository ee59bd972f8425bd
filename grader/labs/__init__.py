"""The lab files: built-in labs, their loading and strict validation, check parameters."""
