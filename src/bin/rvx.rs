//! The `rvx` command-line tool; see `rvx --help`.

fn main() -> std::process::ExitCode {
    rvx::cli::main()
}
