//! What Linux's /proc says about a process: CPU time (utime + stime from /proc/<pid>/stat, in
//! clock ticks), resident memory (VmRSS, and its peak VmHWM, from /proc/<pid>/status), and a
//! reset of that peak. Read-only apart from the reset; knows nothing of smsauth.

use anyhow::Context;

/// Clock ticks per second (`getconf CLK_TCK`); 100 when it cannot be asked, which is what
/// Linux uses on every common architecture.
pub fn clock_ticks() -> (u64, bool) {
    let asked = std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse::<u64>().ok())
        .filter(|t| *t > 0);
    match asked {
        Some(t) => (t, true),
        None => (100, false),
    }
}

/// User plus system CPU time of `pid` (all its threads), in clock ticks.
pub fn cpu_ticks(pid: u32) -> anyhow::Result<u64> {
    let path = format!("/proc/{pid}/stat");
    let stat = std::fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?;
    // The command name (field 2) is in parentheses and may hold spaces: count from after it.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .context("malformed /proc/<pid>/stat")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state); utime and stime are fields 14 and 15.
    let field = |n: usize| -> anyhow::Result<u64> {
        fields
            .get(n - 3)
            .context("short /proc/<pid>/stat")?
            .parse::<u64>()
            .context("bad number in /proc/<pid>/stat")
    };
    Ok(field(14)? + field(15)?)
}

/// CPU ticks summed over several processes.
pub fn cpu_ticks_sum(pids: &[u32]) -> anyhow::Result<u64> {
    pids.iter().map(|p| cpu_ticks(*p)).sum()
}

/// CPU ticks summed over every process whose command name is one of `names` (PostgreSQL's
/// backends are one process per connection, so they are found by name, not by pid). A backend
/// that exits inside the window takes its ticks with it; the server's pooled connections live
/// for the whole run.
pub fn cpu_ticks_of(names: &[&str]) -> u64 {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|comm| names.contains(&comm.trim()))
        })
        .filter_map(|pid| cpu_ticks(pid).ok())
        .sum()
}

/// A `Vm…` line of /proc/<pid>/status, in KiB.
pub fn status_kib(pid: u32, key: &str) -> anyhow::Result<u64> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?;
    status
        .lines()
        .find_map(|line| {
            let value = line.strip_prefix(key)?.strip_prefix(':')?;
            value.trim().trim_end_matches("kB").trim().parse().ok()
        })
        .with_context(|| format!("no {key} in {path}"))
}

/// Resets the peak RSS (VmHWM) to the current RSS, so that each run reports its own peak.
/// Returns false where the kernel or permissions do not allow it (the peak is then the
/// process's lifetime peak).
pub fn reset_peak(pid: u32) -> bool {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        let me = std::process::id();
        assert!(cpu_ticks(me).is_ok());
        assert!(status_kib(me, "VmRSS").is_ok_and(|kib| kib > 0));
        assert!(status_kib(me, "VmHWM").is_ok_and(|kib| kib > 0));
    }
}
