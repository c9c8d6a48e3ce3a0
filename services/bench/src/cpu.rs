//! The machine's CPU time, from `/proc/stat`: how many core-seconds every process together
//! (broker, Postgres, this process) kept the machine busy over a phase of a benchmark. A ratio
//! between two runs on a shared machine says little about where the time went; the
//! core-seconds say how much work a phase was, and on how many cores it could fit.

use std::time::Instant;

use anyhow::Context as _;

/// One reading of the machine's CPU counters.
#[derive(Clone, Copy, Debug)]
pub struct Sample {
    /// Jiffies this machine's processes and kernel ran, summed over the cores: not idle, not
    /// waiting for I/O, not stolen by the hypervisor for other machines.
    busy: u64,
    /// All jiffies, summed over the cores.
    all: u64,
    /// The number of cores `/proc/stat` lists.
    pub cores: usize,
    at: Instant,
}

impl Sample {
    /// Reads the counters now.
    pub fn now() -> anyhow::Result<Self> {
        let stat = std::fs::read_to_string("/proc/stat").context("failed to read /proc/stat")?;
        let (busy, all) = totals(&stat)?;
        let cores = stat
            .lines()
            .filter(|line| {
                line.strip_prefix("cpu")
                    .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
            })
            .count();
        Ok(Self {
            busy,
            all,
            cores: cores.max(1),
            at: Instant::now(),
        })
    }

    /// Core-seconds the machine was busy between `earlier` and this reading: the busy share
    /// of the jiffies times the cores times the wall time (no need to know the jiffy's length).
    #[must_use]
    pub fn busy_since(&self, earlier: &Self) -> f64 {
        let all = self.all.saturating_sub(earlier.all);
        if all == 0 {
            return 0.0;
        }
        let busy = self.busy.saturating_sub(earlier.busy);
        let seconds = self.at.duration_since(earlier.at).as_secs_f64();
        seconds * self.cores as f64 * busy as f64 / all as f64
    }
}

/// (busy, all) jiffies from the aggregate `cpu` line: user, nice, system, idle, iowait, irq,
/// softirq, steal (guest time is counted within user and nice already). Busy leaves out idle,
/// I/O wait and steal: time a shared host gave other machines is not this machine's work.
fn totals(stat: &str) -> anyhow::Result<(u64, u64)> {
    let line = stat
        .lines()
        .find(|line| line.starts_with("cpu "))
        .context("no aggregate cpu line in /proc/stat")?;
    let fields: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .take(8)
        .map(str::parse)
        .collect::<Result<_, _>>()
        .with_context(|| format!("unreadable cpu line in /proc/stat: {line}"))?;
    anyhow::ensure!(fields.len() >= 5, "short cpu line in /proc/stat: {line}");
    let all: u64 = fields.iter().sum();
    let not_ours = fields[3] + fields[4] + fields.get(7).copied().unwrap_or(0);
    Ok((all - not_ours, all))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_excludes_idle_io_wait_and_steal_and_ignores_guest_columns() {
        let stat = "cpu  100 5 20 800 50 3 2 9 7 0\ncpu0 50 2 10 400 25 1 1 4 3 0\n";
        assert_eq!(totals(stat).expect("parses"), (130, 989));
    }

    #[test]
    fn a_missing_cpu_line_is_an_error() {
        assert!(totals("intr 1 2 3\n").is_err());
        assert!(totals("cpu  1 2 x 4 5\n").is_err());
    }

    #[test]
    fn reads_this_machine() {
        let sample = Sample::now().expect("reads /proc/stat");
        assert!(sample.all > 0 && sample.busy <= sample.all, "{sample:?}");
        assert!(sample.cores >= 1);
    }
}
