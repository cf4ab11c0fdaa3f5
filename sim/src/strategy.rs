//! Proptest strategies that generate fault schedules, and a test runner whose
//! randomness replays from `SYNOD_SEED`.

use crate::{Delay, Fault, FaultSchedule, LinkConfig};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use synod_core::NodeId;

/// Which faults a generated schedule may contain. Start from [`Faults::new`] (all
/// kinds on) and switch off what your protocol does not claim to survive.
///
/// ```
/// use proptest::strategy::{Strategy, ValueTree};
/// use synod_core::NodeId;
/// use synod_sim::{Faults, sim_runner};
///
/// let nodes = [NodeId(1), NodeId(2), NodeId(3)];
/// let strategy = Faults::new(&nodes, 10_000).max_faults(6).without_pauses().strategy();
/// let mut runner = sim_runner(16);
/// let schedule = strategy.new_tree(&mut runner).unwrap().current();
/// assert!(schedule.len() <= 6);
/// assert!(schedule.faults.windows(2).all(|w| w[0].0 <= w[1].0)); // in time order
/// ```
#[derive(Clone, Debug)]
pub struct Faults {
    nodes: Vec<NodeId>,
    horizon: u64,
    max_faults: usize,
    crashes: bool,
    pauses: bool,
    partitions: bool,
    lossy_network: bool,
    clock_skew: bool,
    tick_period: u64,
}

impl Faults {
    /// Schedules over `nodes` with fault times in `0..horizon`, up to 8 faults, every
    /// kind enabled, for nodes ticking every 100 time units.
    pub fn new(nodes: &[NodeId], horizon: u64) -> Self {
        Faults {
            nodes: nodes.to_vec(),
            horizon: horizon.max(1),
            max_faults: 8,
            crashes: true,
            pauses: true,
            partitions: true,
            lossy_network: true,
            clock_skew: true,
            tick_period: 100,
        }
    }

    /// At most `n` faults per schedule.
    pub fn max_faults(mut self, n: usize) -> Self {
        self.max_faults = n;
        self
    }

    /// No crashes or restarts.
    pub fn without_crashes(mut self) -> Self {
        self.crashes = false;
        self
    }

    /// No pauses.
    pub fn without_pauses(mut self) -> Self {
        self.pauses = false;
        self
    }

    /// No partitions or blocked links.
    pub fn without_partitions(mut self) -> Self {
        self.partitions = false;
        self
    }

    /// No changes to loss, duplication and reordering.
    pub fn without_lossy_network(mut self) -> Self {
        self.lossy_network = false;
        self
    }

    /// No clock skew.
    pub fn without_clock_skew(mut self) -> Self {
        self.clock_skew = false;
        self
    }

    /// The nominal tick period, around which skewed periods are drawn.
    pub fn tick_period(mut self, period: u64) -> Self {
        self.tick_period = period.max(1);
        self
    }

    /// A strategy producing schedules sorted by time. Proptest shrinks them by
    /// dropping faults and moving them earlier, toward a short failing schedule.
    pub fn strategy(&self) -> BoxedStrategy<FaultSchedule> {
        let fault = self.fault();
        let times = 0..self.horizon;
        prop::collection::vec((times, fault), 0..=self.max_faults)
            .prop_map(|mut faults| {
                faults.sort_by_key(|(t, _)| *t);
                FaultSchedule { faults }
            })
            .boxed()
    }

    fn fault(&self) -> BoxedStrategy<Fault> {
        let node = prop::sample::select(self.nodes.clone());
        let mut kinds: Vec<BoxedStrategy<Fault>> = Vec::new();
        if self.crashes {
            kinds.push(node.clone().prop_map(Fault::Crash).boxed());
            kinds.push(node.clone().prop_map(Fault::Restart).boxed());
        }
        if self.pauses {
            kinds.push(node.clone().prop_map(Fault::Pause).boxed());
            kinds.push(node.clone().prop_map(Fault::Resume).boxed());
        }
        if self.partitions {
            let group = prop::sample::subsequence(self.nodes.clone(), 0..=self.nodes.len());
            kinds.push(group.prop_map(|g| Fault::Partition(vec![g])).boxed());
            kinds.push(
                (node.clone(), node.clone())
                    .prop_map(|(from, to)| Fault::BlockLink { from, to })
                    .boxed(),
            );
            kinds.push(Just(Fault::Heal).boxed());
        }
        if self.lossy_network {
            let link = (0u32..=30, 0u32..=10, 0u32..=10, 1u64..=200).prop_map(
                |(loss, duplicate, reorder, max)| {
                    Fault::SetNetwork(LinkConfig {
                        delay: Delay::Uniform { min: 1, max },
                        loss: f64::from(loss) / 100.0,
                        duplicate: f64::from(duplicate) / 100.0,
                        reorder: f64::from(reorder) / 100.0,
                    })
                },
            );
            kinds.push(link.boxed());
        }
        if self.clock_skew {
            let base = self.tick_period;
            kinds.push(
                (node, base / 2 + 1..=base * 2)
                    .prop_map(|(node, period)| Fault::SetTickPeriod { node, period })
                    .boxed(),
            );
        }
        if kinds.is_empty() {
            return Just(Fault::Heal).boxed();
        }
        prop::strategy::Union::new(kinds).boxed()
    }
}

/// The number of property-test cases: `SYNOD_PROPTEST_CASES` if set, else `default`.
/// CI runs the fast default; a soak run sets thousands.
pub fn proptest_cases(default: u32) -> u32 {
    std::env::var("SYNOD_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A proptest runner for `cases` cases (overridden by `SYNOD_PROPTEST_CASES`) whose
/// random choices come from `SYNOD_SEED` when set, else from a fixed seed, so a run
/// and its shrinking replay exactly. It prints the seed it uses.
pub fn sim_runner(cases: u32) -> TestRunner {
    let seed = crate::seed::seed_from_env().unwrap_or(0x005E_ED0F_5A0D);
    eprintln!("synod-sim: proptest seed {seed} (replay with SYNOD_SEED={seed})");
    let mut bytes = [0u8; 32];
    for (i, chunk) in bytes.chunks_mut(8).enumerate() {
        chunk.copy_from_slice(&(seed ^ (i as u64).wrapping_mul(0x9E37_79B9)).to_le_bytes());
    }
    let config = Config {
        cases: proptest_cases(cases),
        failure_persistence: None,
        ..Config::default()
    };
    TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &bytes))
}
