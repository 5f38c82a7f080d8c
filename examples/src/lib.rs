//! Runnable examples of the canary SDK, and `canary-load`, the steady load generator the demo,
//! the benchmarks and the end-to-end tests use (it only ever sends to the URL it is given, which
//! in this project is always 127.0.0.1).
