//! What one client counted during a run (histograms in µs, operations, errors with a few
//! samples, refusals), and merging the clients' counts. Decides nothing about outcomes.

use anyhow::anyhow;
use hdrhistogram::Histogram;

/// Error descriptions kept per run.
const SAMPLES: usize = 5;

/// Counts and histograms of one client, merged over all of them at the end.
pub struct Tally {
    pub total: Histogram<u64>,
    pub steps: Vec<Histogram<u64>>,
    pub step_errors: Vec<u64>,
    pub ops: u64,
    pub errors: u64,
    pub refused: u64,
    pub samples: Vec<String>,
}

impl Tally {
    pub(super) fn new(steps: usize) -> anyhow::Result<Tally> {
        let hist = || {
            Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)
                .map_err(|e| anyhow!("histogram: {e:?}"))
        };
        Ok(Tally {
            total: hist()?,
            steps: (0..steps).map(|_| hist()).collect::<Result<_, _>>()?,
            step_errors: vec![0; steps],
            ops: 0,
            errors: 0,
            refused: 0,
            samples: Vec::new(),
        })
    }

    pub(super) fn error(&mut self, step: Option<usize>, why: String) {
        self.errors += 1;
        if let Some(e) = step.and_then(|s| self.step_errors.get_mut(s)) {
            *e += 1;
        }
        if self.samples.len() < SAMPLES {
            self.samples.push(why);
        }
    }

    pub(super) fn merge(&mut self, other: Tally) -> anyhow::Result<()> {
        let add = |a: &mut Histogram<u64>, b: &Histogram<u64>| {
            a.add(b).map_err(|e| anyhow!("histogram: {e:?}"))
        };
        add(&mut self.total, &other.total)?;
        for (a, b) in self.steps.iter_mut().zip(&other.steps) {
            add(a, b)?;
        }
        for (a, b) in self.step_errors.iter_mut().zip(&other.step_errors) {
            *a += b;
        }
        self.ops += other.ops;
        self.errors += other.errors;
        self.refused += other.refused;
        for s in other.samples {
            if self.samples.len() < SAMPLES {
                self.samples.push(s);
            }
        }
        Ok(())
    }
}
