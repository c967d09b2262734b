//! The `rvx` command line: argument parsing and the subcommands. `src/bin/rvx.rs` only calls
//! [`main`].

mod bench;
mod report;

use crate::backend::rvr::precompiled::{self, PrecompiledBuild};
use crate::backend::rvr::{LiftMode, RvrModule, RvrOptions};
use crate::backend::BackendKind;
use crate::config::{AppConfig, Rv32ImConfig, VmConfig};
use crate::instance::{MeteredCostInstance, MeteredInstance};
use crate::program::Program;
use crate::state::VmState;
use crate::{guests, Output, PureInstance};
use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

/// Process exit status when rvx itself fails (bad input, guest fault).
const EXIT_ERROR: u8 = 1;
/// Process exit status when the guest terminated with a non-zero exit code.
const EXIT_GUEST_FAILED: u8 = 2;

#[derive(Parser, Debug)]
#[command(
    name = "rvx",
    version,
    about = "Fast, exact executor for zkVM guest programs (RV32IM + OpenVM intrinsics)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a guest program (an ELF path or a bundled guest name).
    Run(RunArgs),
    /// List the bundled guests.
    Guests,
    /// Recompile a program ahead of time, filling the rvr cache.
    Compile(CompileArgs),
    /// Time the bundled guests on every backend and mode (and cpubench natively).
    Bench(bench::BenchArgs),
}

#[derive(clap::Args, Debug)]
struct CompileArgs {
    /// ELF file, or the name of a bundled guest.
    program: String,
    /// VM configuration: an `openvm.toml` (default: RV32IM with the IO instructions).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// The mode to compile for (default: all three).
    #[arg(long, value_enum)]
    mode: Option<ModeArg>,
}

#[derive(clap::Args, Debug)]
struct RunArgs {
    /// ELF file, or the name of a bundled guest (see `rvx guests`).
    program: String,
    /// Add one input record given as hex bytes (e.g. 0a00000000000000). Repeatable.
    #[arg(long = "input-hex", value_name = "HEX")]
    input_hex: Vec<String>,
    /// Add one input record holding a file's bytes. Repeatable.
    #[arg(long = "input-file", value_name = "PATH")]
    input_file: Vec<PathBuf>,
    /// VM configuration: an `openvm.toml` (default: RV32IM with the IO instructions).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Execution backend.
    #[arg(long, value_enum, default_value_t = BackendKind::default())]
    backend: BackendKind,
    /// Execution mode.
    #[arg(long, value_enum, default_value_t = ModeArg::Pure)]
    mode: ModeArg,
    /// With --mode cost: stop once the cost exceeds this (default: the configuration's).
    #[arg(long, value_name = "COST")]
    max_cost: Option<u64>,
    /// Stop after at most this many instructions (the state is then suspended).
    #[arg(long, value_name = "N")]
    limit: Option<u64>,
    /// Save the final (terminated or suspended) state to FILE.
    #[arg(long, value_name = "FILE")]
    save_state: Option<PathBuf>,
    /// Resume from a state saved with --save-state instead of starting from the inputs.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["input_hex", "input_file"])]
    resume: Option<PathBuf>,
    /// Print one JSON object instead of the human report (guest output goes to stderr).
    #[arg(long)]
    json: bool,
}

/// `--backend`: every backend of the instance table, by its short name.
impl ValueEnum for BackendKind {
    fn value_variants<'a>() -> &'a [Self] {
        BackendKind::ALL
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        let help = self.summary().trim_end_matches('.');
        Some(clap::builder::PossibleValue::new(self.name()).help(help))
    }
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum ModeArg {
    /// Run to the final state without metering.
    Pure,
    /// Also cut the execution into segments with per-chip trace heights.
    Metered,
    /// Also compute the proving cost (sum over chips of rows x width).
    Cost,
}

impl ModeArg {
    fn name(self) -> &'static str {
        match self {
            ModeArg::Pure => "pure",
            ModeArg::Metered => "metered",
            ModeArg::Cost => "cost",
        }
    }
}

/// Runs the command line and returns the process exit status.
pub fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    let result = match cli.command {
        Command::Run(args) => {
            let sub = matches
                .subcommand_matches("run")
                .expect("clap matched `run`");
            run(&args, sub)
        }
        Command::Guests => {
            list_guests();
            Ok(ExitCode::SUCCESS)
        }
        Command::Compile(args) => compile(&args),
        Command::Bench(args) => bench::bench(&args),
    };
    result.unwrap_or_else(|message| {
        eprintln!("error: {message}");
        ExitCode::from(EXIT_ERROR)
    })
}

fn list_guests() {
    for guest in guests::ALL {
        println!("{:<12} {}", guest.name, guest.description);
    }
    println!();
    match precompiled::build() {
        PrecompiledBuild::Compiled {
            compiler,
            style,
            vector_bytes,
            ..
        } => {
            let names: Vec<&str> = (guests::ALL.iter())
                .filter(|g| precompiled::is_precompiled(g.name))
                .map(|g| g.name)
                .collect();
            println!(
                "precompiled for rvr (every mode, no compile at run time): {}",
                names.join(", ")
            );
            println!("  by {compiler}, {style}, {}-bit vectors", 8 * vector_bytes);
        }
        PrecompiledBuild::Absent { reason } => {
            println!("precompiled for rvr: none ({reason}); rvr compiles them on first use")
        }
    }
}

/// Loads the program named on the command line: a bundled guest or an ELF path.
fn load_program(name: &str, config: &dyn VmConfig) -> Result<Program, String> {
    let is_path = name.contains('/') || std::path::Path::new(name).exists();
    match guests::find(name) {
        Some(guest) if !is_path => {
            Program::from_elf(guest.elf, config).map_err(|e| format!("{name}: {e}"))
        }
        _ => Program::from_elf_file(name, config).map_err(|e| format!("{name}: {e}")),
    }
}

/// The input records in command-line order, `--input-hex` and `--input-file` interleaved.
fn input_records(args: &RunArgs, matches: &ArgMatches) -> Result<Vec<Vec<u8>>, String> {
    let mut records: Vec<(usize, Vec<u8>)> = Vec::new();
    let hex_at = matches.indices_of("input_hex").into_iter().flatten();
    for (index, text) in hex_at.zip(&args.input_hex) {
        let text = text.strip_prefix("0x").unwrap_or(text);
        let bytes = hex::decode(text).map_err(|e| format!("--input-hex {text}: {e}"))?;
        records.push((index, bytes));
    }
    let file_at = matches.indices_of("input_file").into_iter().flatten();
    for (index, path) in file_at.zip(&args.input_file) {
        let bytes =
            std::fs::read(path).map_err(|e| format!("--input-file {}: {e}", path.display()))?;
        records.push((index, bytes));
    }
    records.sort_by_key(|(index, _)| *index);
    Ok(records.into_iter().map(|(_, bytes)| bytes).collect())
}

/// The configuration named on the command line, else a bundled guest's own, else the default.
fn load_config(path: &Option<PathBuf>, program: &str) -> Result<Box<dyn VmConfig>, String> {
    let is_path = program.contains('/') || std::path::Path::new(program).exists();
    Ok(match (path, guests::find(program)) {
        (Some(path), _) => Box::new(AppConfig::from_file(path).map_err(|e| e.to_string())?),
        (None, Some(guest)) if !is_path => Box::new(guest.config().map_err(|e| e.to_string())?),
        (None, _) => Box::new(Rv32ImConfig::default()),
    })
}

fn compile(args: &CompileArgs) -> Result<ExitCode, String> {
    let config = load_config(&args.config, &args.program)?;
    let program = load_program(&args.program, config.as_ref())?;
    let modes = match args.mode {
        Some(mode) => vec![mode],
        None => vec![ModeArg::Pure, ModeArg::Metered, ModeArg::Cost],
    };
    let options = RvrOptions::default();
    for mode in modes {
        let lift_mode = match mode {
            ModeArg::Pure => LiftMode::Pure,
            ModeArg::Metered => LiftMode::Metered,
            ModeArg::Cost => LiftMode::Cost,
        };
        eprintln!("compiling {} for {} mode...", args.program, mode.name());
        let module = RvrModule::build(&program, lift_mode, &options).map_err(|e| e.to_string())?;
        let report = module.report();
        if report.precompiled {
            println!(
                "{}: {} mode: precompiled into rvx, nothing to compile",
                args.program,
                mode.name()
            );
        } else if report.cache_hit {
            println!(
                "{}: {} mode: already in the cache",
                args.program,
                mode.name()
            );
        } else {
            println!(
                "{}: {} mode: compiled in {:.0} ms",
                args.program,
                mode.name(),
                report.compile_time.as_secs_f64() * 1e3
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn run(args: &RunArgs, matches: &ArgMatches) -> Result<ExitCode, String> {
    let config = load_config(&args.config, &args.program)?;
    let program = Arc::new(load_program(&args.program, config.as_ref())?);
    let output = if args.json {
        Output::Stderr
    } else {
        Output::Stdout
    };
    let backend = args.backend;
    let state = match &args.resume {
        Some(path) => VmState::load(path).map_err(|e| e.to_string())?,
        None => VmState::new(&program, input_records(args, matches)?).map_err(|e| e.to_string())?,
    };
    let start_instret = state.instret;
    let error = |e: crate::Error| e.to_string();
    // Instances compile (or load from the cache) when created: timed apart from execution.
    let (state, metering, compiled, wall) = match args.mode {
        ModeArg::Pure => {
            let instance = PureInstance::new(program, backend)
                .map_err(error)?
                .with_output(output);
            let started = Instant::now();
            let state = instance
                .execute_from_state(state, args.limit)
                .map_err(error)?;
            (
                state,
                report::Metering::None,
                instance.compile_report(),
                started.elapsed(),
            )
        }
        ModeArg::Metered => {
            let instance = MeteredInstance::new(program, backend)
                .map_err(error)?
                .with_output(output);
            let started = Instant::now();
            let (segments, state) = instance
                .execute_metered_from_state(state, args.limit)
                .map_err(error)?;
            (
                state,
                report::Metering::Segments(segments),
                instance.compile_report(),
                started.elapsed(),
            )
        }
        ModeArg::Cost => {
            let mut instance = MeteredCostInstance::new(program, backend)
                .map_err(error)?
                .with_output(output);
            if let Some(max) = args.max_cost {
                instance = instance.with_max_cost(max);
            }
            let started = Instant::now();
            let (cost, state) = instance
                .execute_metered_cost_from_state(state, args.limit)
                .map_err(error)?;
            (
                state,
                report::Metering::Cost(cost),
                instance.compile_report(),
                started.elapsed(),
            )
        }
    };

    if let Some(path) = &args.save_state {
        state.save(path).map_err(|e| e.to_string())?;
    }
    let report = report::RunReport::new(
        &state,
        state.instret - start_instret,
        wall,
        backend,
        args.mode.name(),
        metering,
        (backend != BackendKind::Interpreter).then_some(compiled),
    );
    if args.json {
        println!("{}", report.to_json());
    } else {
        print!("{}", report.to_human());
    }
    Ok(match state.exit_code {
        Some(code) if code != 0 => ExitCode::from(EXIT_GUEST_FAILED),
        _ => ExitCode::SUCCESS,
    })
}
