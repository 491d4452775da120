//! TMF630 list queries. (Being written: see the interface below.)
