//! Container resource usage in Docker's shapes: `/containers/{id}/stats`
//! from cgroup v1 or v2 files and /proc, and `/containers/{id}/top`.
