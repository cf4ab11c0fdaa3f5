//! Encoded size of interval tree clocks against version vectors under churn:
//! `LIVE` participants; every round each one records an event, a few random pairs
//! exchange histories (peek + join, as on a message), one participant retires
//! (joins its stamp into another's) and a new one forks from a random participant.
//! The version vector needs a fresh id per participant ever created; the ITC needs
//! none and gives ids back on retirement. Prints mean and max encoded bytes per
//! participant at checkpoints. Deterministic: same output on every run.
//!
//! Run: `cargo bench -p synod-clocks --bench itc_churn`

#![allow(missing_docs)]

use synod_clocks::{Stamp, VersionVector};
use synod_core::NodeId;

const LIVE: usize = 16;
const CHECKPOINTS: [usize; 5] = [1, 10, 100, 1_000, 5_000];

struct Rng(u64);
impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) % n as u64) as usize
    }
}

struct Participant {
    stamp: Stamp,
    vv: VersionVector,
    id: NodeId,
}

fn main() {
    let mut rng = Rng(42);
    let mut next_id = 0u64;
    let mut fresh = || {
        next_id += 1;
        NodeId(next_id)
    };
    let mut live = vec![Participant {
        stamp: Stamp::seed(),
        vv: VersionVector::new(),
        id: fresh(),
    }];
    while live.len() < LIVE {
        let p = live.remove(0);
        let (a, b) = p.stamp.fork();
        live.push(Participant {
            stamp: a,
            vv: p.vv.clone(),
            id: fresh(),
        });
        live.push(Participant {
            stamp: b,
            vv: p.vv,
            id: fresh(),
        });
    }
    println!("ITC vs version vector under churn, {LIVE} live participants (bytes per participant)");
    println!(
        "{:>7} {:>10} {:>9} {:>9} {:>9} {:>9}",
        "rounds", "ids ever", "ITC mean", "ITC max", "VV mean", "VV max"
    );
    for round in 1..=*CHECKPOINTS.last().unwrap() {
        for p in &mut live {
            p.stamp.event().unwrap();
            p.vv.increment(p.id).unwrap();
        }
        for _ in 0..LIVE / 4 {
            let (from, to) = (rng.below(LIVE), rng.below(LIVE));
            if from == to {
                continue;
            }
            let msg = live[from].stamp.peek();
            let history = live[from].vv.clone();
            let stamp = std::mem::replace(&mut live[to].stamp, Stamp::seed());
            live[to].stamp = stamp.join(msg).unwrap();
            live[to].vv.join(&history);
        }
        // One retires into another; a newcomer forks from someone.
        let gone = live.swap_remove(rng.below(live.len()));
        let heir = rng.below(live.len());
        let stamp = std::mem::replace(&mut live[heir].stamp, Stamp::seed());
        live[heir].stamp = stamp.join(gone.stamp).unwrap();
        live[heir].vv.join(&gone.vv);
        let parent = rng.below(live.len());
        let (a, b) = live[parent].stamp.fork();
        live[parent].stamp = a;
        let vv = live[parent].vv.clone();
        live.push(Participant {
            stamp: b,
            vv,
            id: fresh(),
        });

        if CHECKPOINTS.contains(&round) {
            let itc: Vec<usize> = live.iter().map(|p| p.stamp.encode().len()).collect();
            let vv: Vec<usize> = live.iter().map(|p| p.vv.encode().len()).collect();
            let mean = |xs: &[usize]| xs.iter().sum::<usize>() as f64 / xs.len() as f64;
            println!(
                "{round:>7} {:>10} {:>9.1} {:>9} {:>9.1} {:>9}",
                live.iter().map(|p| p.id.0).max().unwrap(),
                mean(&itc),
                itc.iter().max().unwrap(),
                mean(&vv),
                vv.iter().max().unwrap()
            );
        }
    }
}
