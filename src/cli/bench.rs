//! `rvx bench`: the bundled guests on every backend and mode, on the workloads of the criterion
//! benchmarks ([`crate::guests::BenchWorkload`]), timed and printed as a table or as JSON.
//!
//! Each guest, backend and mode gets one instance (its compile, if any, is reported apart), one
//! untimed warm-up run and `--runs` timed runs; the table shows the median (JSON also has the
//! fastest). Every run's result must equal the interpreter's in the same mode, or the command
//! fails. For `cpubench` a `native` row times the guest's workload compiled into rvx for this
//! machine (`guests/cpubench/src/workload.rs`), on the same scale.

#[path = "../../guests/cpubench/src/workload.rs"]
mod workload;

use crate::backend::rvr::precompiled::{self, PrecompiledBuild};
use crate::backend::rvr::use_precompiled;
use crate::backend::{BackendKind, CompileReport};
use crate::error::Error;
use crate::guests::{self, BundledGuest};
use crate::instance::{MeteredCostInstance, MeteredInstance};
use crate::metering::{CostReport, Segment};
use crate::program::Program;
use crate::state::VmState;
use crate::{Output, PureInstance};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use std::fmt::Write as _;
use std::hint::black_box;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The modes, by their names in reports.
const MODES: [&str; 3] = ["pure", "metered", "cost"];

#[derive(clap::Args, Debug)]
pub(super) struct BenchArgs {
    /// Bundled guests to run (default: every bundled guest with a benchmark workload).
    guests: Vec<String>,
    /// Timed runs per guest, backend and mode, after one untimed warm-up run; the median is
    /// reported.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    runs: u32,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    json: bool,
}

/// What one run returns, compared with the interpreter's.
#[derive(PartialEq)]
enum Outcome {
    Pure(VmState),
    Metered(Vec<Segment>, VmState),
    Cost(CostReport, VmState),
}

impl Outcome {
    fn state(&self) -> &VmState {
        match self {
            Outcome::Pure(s) | Outcome::Metered(_, s) | Outcome::Cost(_, s) => s,
        }
    }
}

/// One line of the report.
#[derive(Debug, Serialize)]
struct Row {
    guest: &'static str,
    /// What the inputs are.
    input: &'static str,
    /// A backend's name, or `native`.
    backend: String,
    /// `pure`, `metered`, `cost`; `-` for native.
    mode: &'static str,
    /// Guest instructions per run (for native: those of the guest doing the same work).
    instret: u64,
    /// The median run, in milliseconds.
    time_ms: f64,
    /// The fastest run, in milliseconds.
    min_ms: f64,
    /// Millions of guest instructions per second, at the median.
    mips: f64,
    /// The interpreter's median time in the same mode (pure, for native) over this one.
    vs_interp: Option<f64>,
    /// This median time over the native one (cpubench only).
    vs_native: Option<f64>,
    /// Milliseconds spent compiling before the runs (compiling backends).
    compile_ms: Option<f64>,
    /// Whether the recompiler ran code precompiled into rvx.
    precompiled: Option<bool>,
}

/// The whole report (`--json`).
#[derive(Debug, Serialize)]
struct Report {
    machine: String,
    runs: u32,
    statistic: &'static str,
    precompiled: String,
    elapsed_s: f64,
    rows: Vec<Row>,
}

/// Runs `rvx bench`.
pub(super) fn bench(args: &BenchArgs) -> Result<ExitCode, String> {
    let chosen: Vec<&'static BundledGuest> = if args.guests.is_empty() {
        guests::ALL.iter().filter(|g| g.bench.is_some()).collect()
    } else {
        args.guests
            .iter()
            .map(|name| match guests::find(name) {
                Some(g) if g.bench.is_some() => Ok(g),
                Some(_) => Err(format!(
                    "{name}: this bundled guest has no benchmark workload"
                )),
                None => Err(format!("{name}: no such bundled guest (see `rvx guests`)")),
            })
            .collect::<Result<_, _>>()?
    };
    let started = Instant::now();
    let steps = chosen.len() * BackendKind::ALL.len() * MODES.len()
        + chosen.iter().filter(|g| g.name == "cpubench").count();
    let progress = ProgressBar::new(steps as u64);
    progress.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} {elapsed} {msg}")
            .expect("a valid template"),
    );
    let mut rows = Vec::new();
    for guest in chosen {
        bench_guest(guest, args.runs, &progress, &mut rows)?;
    }
    progress.finish_and_clear();
    let report = Report {
        machine: machine(),
        runs: args.runs,
        statistic: "median",
        precompiled: describe_precompiled(),
        elapsed_s: started.elapsed().as_secs_f64(),
        rows,
    };
    if args.json {
        println!(
            "{}",
            serde_json::to_string(&report).expect("a report serialises")
        );
    } else {
        print!("{}", table(&report));
    }
    Ok(ExitCode::SUCCESS)
}

/// Times `guest` on every backend and mode (and natively, for cpubench), adding its rows.
fn bench_guest(
    guest: &'static BundledGuest,
    runs: u32,
    progress: &ProgressBar,
    rows: &mut Vec<Row>,
) -> Result<(), String> {
    let bench = guest.bench.expect("chosen guests have a workload");
    let inputs = bench.records();
    let config = guest.config().map_err(|e| format!("{}: {e}", guest.name))?;
    let program =
        Program::from_elf(guest.elf, &config).map_err(|e| format!("{}: {e}", guest.name))?;
    let program = Arc::new(program);
    let failed = |what: &str, e: Error| format!("{} on {what}: {e}", guest.name);
    let first = rows.len();
    // The interpreter's outcome and median time per mode.
    let mut reference: Vec<(Outcome, f64)> = Vec::new();
    for &backend in BackendKind::ALL {
        for (m, mode) in MODES.into_iter().enumerate() {
            progress.set_message(format!("{} {backend} {mode}", guest.name));
            let what = format!("{backend} {mode}");
            let timed = time_mode(&program, backend, mode, &inputs, runs);
            progress.inc(1);
            let (outcome, times, compiled) = match timed {
                // A backend that cannot compile here (no C compiler, no JIT for this host)
                // leaves its rows out; the others are still worth having.
                Err(Error::Compile(e)) if backend != BackendKind::Interpreter => {
                    progress.println(format!("{}: {what} skipped: {e}", guest.name));
                    continue;
                }
                timed => timed.map_err(|e| failed(&what, e))?,
            };
            let median = median_ms(&times);
            if backend == BackendKind::Interpreter {
                reference.push((outcome, median));
            } else if outcome != reference[m].0 {
                return Err(format!(
                    "{}: {what} does not give the interpreter's result",
                    guest.name
                ));
            }
            let instret = reference[m].0.state().instret;
            let compiled = (backend != BackendKind::Interpreter).then_some(compiled);
            rows.push(Row {
                guest: guest.name,
                input: bench.label,
                backend: backend.to_string(),
                mode,
                instret,
                time_ms: median,
                min_ms: min_ms(&times),
                mips: instret as f64 / median / 1e3,
                vs_interp: Some(reference[m].1 / median),
                vs_native: None,
                compile_ms: compiled.map(|c| c.compile_time.as_secs_f64() * 1e3),
                precompiled: compiled.map(|c| c.precompiled),
            });
        }
    }
    if guest.name == "cpubench" {
        progress.set_message("cpubench native");
        let row = native(guest, &inputs, &reference[0], runs)?;
        for other in &mut rows[first..] {
            other.vs_native = Some(other.time_ms / row.time_ms);
        }
        rows.push(row);
        progress.inc(1);
    }
    Ok(())
}

/// The native row: cpubench's workload compiled into rvx, checked against the guest's public
/// values (`pure`, the interpreter's pure outcome and time).
fn native(
    guest: &'static BundledGuest,
    inputs: &[Vec<u8>],
    pure: &(Outcome, f64),
    runs: u32,
) -> Result<Row, String> {
    let scale = inputs
        .first()
        .and_then(|r| <[u8; 4]>::try_from(r.as_slice()).ok())
        .map(u32::from_le_bytes)
        .ok_or("cpubench's benchmark input is not one 4-byte scale")?;
    let words: Vec<u32> = (pure.0.state().public_values.chunks(4).take(8))
        .map(|w| u32::from_le_bytes(w.try_into().expect("4-byte words")))
        .collect();
    if words != workload::run(scale) {
        return Err("cpubench: the native workload does not give the guest's result".into());
    }
    let mut times = Vec::new();
    for run in 0..=runs {
        let started = Instant::now();
        black_box(workload::run(black_box(scale)));
        if run > 0 {
            times.push(started.elapsed());
        }
    }
    let (median, instret) = (median_ms(&times), pure.0.state().instret);
    Ok(Row {
        guest: guest.name,
        input: guest.bench.map_or("", |b| b.label),
        backend: "native".into(),
        mode: "-",
        instret,
        time_ms: median,
        min_ms: min_ms(&times),
        mips: instret as f64 / median / 1e3,
        vs_interp: Some(pure.1 / median),
        vs_native: Some(1.0),
        compile_ms: None,
        precompiled: None,
    })
}

/// Creates the instance of `mode` on `backend`, runs it once untimed and `runs` times timed;
/// returns the last outcome, the times and the compile report.
fn time_mode(
    program: &Arc<Program>,
    backend: BackendKind,
    mode: &str,
    inputs: &[Vec<u8>],
    runs: u32,
) -> Result<(Outcome, Vec<Duration>, CompileReport), Error> {
    let program = program.clone();
    let inputs = || inputs.to_vec();
    match mode {
        "pure" => {
            let i = PureInstance::new(program, backend)?.with_output(Output::Discard);
            let (o, t) = repeat(runs, || Ok(Outcome::Pure(i.execute(inputs())?)))?;
            Ok((o, t, i.compile_report()))
        }
        "metered" => {
            let i = MeteredInstance::new(program, backend)?.with_output(Output::Discard);
            let (o, t) = repeat(runs, || {
                let (segments, state) = i.execute_metered(inputs())?;
                Ok(Outcome::Metered(segments, state))
            })?;
            Ok((o, t, i.compile_report()))
        }
        _ => {
            let i = MeteredCostInstance::new(program, backend)?.with_output(Output::Discard);
            let (o, t) = repeat(runs, || {
                let (cost, state) = i.execute_metered_cost(inputs())?;
                Ok(Outcome::Cost(cost, state))
            })?;
            Ok((o, t, i.compile_report()))
        }
    }
}

/// Runs `run` once untimed and `runs` times timed; every outcome must be the same.
fn repeat(
    runs: u32,
    mut run: impl FnMut() -> Result<Outcome, Error>,
) -> Result<(Outcome, Vec<Duration>), Error> {
    let first = run()?;
    let mut times = Vec::new();
    for _ in 0..runs {
        let started = Instant::now();
        let outcome = run()?;
        times.push(started.elapsed());
        assert!(outcome == first, "a guest run is deterministic");
    }
    Ok((first, times))
}

/// The median of `times` in milliseconds (the mean of the middle two for an even count).
fn median_ms(times: &[Duration]) -> f64 {
    let mut ms: Vec<f64> = times.iter().map(|t| t.as_secs_f64() * 1e3).collect();
    ms.sort_by(f64::total_cmp);
    let n = ms.len();
    match n % 2 {
        1 => ms[n / 2],
        _ => (ms[n / 2 - 1] + ms[n / 2]) / 2.0,
    }
}

fn min_ms(times: &[Duration]) -> f64 {
    let least = times.iter().min().copied().unwrap_or_default();
    least.as_secs_f64() * 1e3
}

/// The CPU model and core count, as far as this machine says.
fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            let line = info.lines().find(|l| l.starts_with("model name"))?;
            Some(line.split_once(':')?.1.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".to_string());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!(
        "{cpu}, {cores} cores, {}-{}",
        std::env::consts::ARCH,
        std::env::consts::OS
    )
}

/// Where the recompiler's code for the bundled guests comes from.
fn describe_precompiled() -> String {
    if !use_precompiled(&|name| std::env::var_os(name)) {
        return "compiled before timing (precompiled code not used: RVX_PRECOMPILED=0 or RVX_CC)"
            .to_string();
    }
    match precompiled::build() {
        PrecompiledBuild::Compiled {
            compiler, style, ..
        } => format!("precompiled into rvx by {compiler}, {style}"),
        PrecompiledBuild::Absent { reason } => {
            format!("not precompiled ({reason}): compiled before timing")
        }
    }
}

/// `1234567` as `1,234,567`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// The report as a text table.
fn table(report: &Report) -> String {
    let mut s = String::new();
    writeln!(s, "machine: {}", report.machine).ok();
    writeln!(s, "rvr: {}", report.precompiled).ok();
    writeln!(
        s,
        "time: median of {} runs after a warm-up run; vs interp: the interpreter's time in the same mode over this one; vs native: this time over native's",
        report.runs
    )
    .ok();
    writeln!(
        s,
        "\n{:<10} {:<14} {:<7} {:<8} {:>12} {:>12} {:>9} {:>10} {:>10}",
        "guest", "input", "backend", "mode", "instret", "time", "MIPS", "vs interp", "vs native"
    )
    .ok();
    for row in &report.rows {
        let ratio = |r: Option<f64>| r.map_or("-".to_string(), |r| format!("{r:.2}"));
        writeln!(
            s,
            "{:<10} {:<14} {:<7} {:<8} {:>12} {:>9.2} ms {:>9} {:>10} {:>10}",
            row.guest,
            row.input,
            row.backend,
            row.mode,
            thousands(row.instret),
            row.time_ms,
            thousands(row.mips.round() as u64),
            ratio(row.vs_interp),
            ratio(row.vs_native),
        )
        .ok();
    }
    writeln!(s, "\ntotal: {:.1} s", report.elapsed_s).ok();
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_and_thousands() {
        let ms = |v: &[u64]| {
            v.iter()
                .map(|&m| Duration::from_millis(m))
                .collect::<Vec<_>>()
        };
        assert_eq!(median_ms(&ms(&[5, 1, 3])), 3.0);
        assert_eq!(median_ms(&ms(&[4, 1, 3, 2])), 2.5);
        assert_eq!(min_ms(&ms(&[4, 1, 3])), 1.0);
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(120_001_523), "120,001,523");
    }
}
