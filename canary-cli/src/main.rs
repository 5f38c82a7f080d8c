//! The `canary` command-line tool (being written).

fn main() {}
