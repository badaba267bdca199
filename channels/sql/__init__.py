"""What every table is built on: the declarative base, portable column types, bulk statements."""
