//! netd: networking for berthd. Filled in by the networking issue.
