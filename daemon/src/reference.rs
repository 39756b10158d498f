//! Docker image references: parsing, `docker.io/library/` normalisation, familiar names.
