//! Seeds: where a run's randomness comes from, and how a failure is replayed.

/// The seed in `SYNOD_SEED`, if set and a number.
pub fn seed_from_env() -> Option<u64> {
    std::env::var("SYNOD_SEED").ok()?.trim().parse().ok()
}

/// The number of seeds a seed sweep runs: `SYNOD_SEEDS` if set, else `default`.
pub fn seed_count(default: u64) -> u64 {
    std::env::var("SYNOD_SEEDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Run `run` for seeds `0..count` (`count` overridden by `SYNOD_SEEDS`), or for the
/// single seed in `SYNOD_SEED` when that is set. On the first failure, panic with the
/// seed and the command that replays it:
/// `SYNOD_SEED=<seed> cargo test <test_name>`.
///
/// ```
/// synod_sim::check_seeds("doc_example", 5, |seed| {
///     if seed < 100 { Ok(()) } else { Err(format!("seed {seed} too big")) }
/// });
/// ```
pub fn check_seeds(test_name: &str, count: u64, mut run: impl FnMut(u64) -> Result<(), String>) {
    let seeds: Vec<u64> = match seed_from_env() {
        Some(seed) => vec![seed],
        None => (0..seed_count(count)).collect(),
    };
    for seed in seeds {
        if let Err(why) = run(seed) {
            panic!(
                "seed {seed} failed: {why}\n  replay with: SYNOD_SEED={seed} cargo test {test_name}"
            );
        }
    }
}
