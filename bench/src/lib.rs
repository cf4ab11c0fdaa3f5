//! Head-to-head benchmarks live in `benches/`.
