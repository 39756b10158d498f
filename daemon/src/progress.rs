//! The JSON progress messages of pulls and pushes, as the docker CLI draws them.
