//! TMF630 `/hub`. (Being written.)
