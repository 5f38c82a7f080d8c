//! Statistics for the judge.
