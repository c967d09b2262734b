//! The recompiler's C for hot loops (what the differential suites cannot see: they check that
//! the code gives the interpreter's results, not that it keeps per-pass work out of loops).

use rvx::backend::rvr::lift::lift;
use rvx::backend::rvr::{CStyle, LiftMode};
use rvx::{guests, Program};

/// The bundled fibonacci guest, whose hot loop is one trace branching back to its start.
fn fibonacci() -> Program {
    let guest = guests::find("fibonacci").expect("bundled");
    Program::from_elf(guest.elf, &guest.config().expect("config")).expect("loads")
}

/// The definition of the function `name` in the generated C (its first line to its closing
/// brace), not its declaration.
fn function<'a>(c: &'a str, name: &str) -> Option<&'a str> {
    let head = format!("RVX_BLOCK {name}(");
    let start = c.match_indices(&head).map(|(at, _)| at).find(|&at| {
        let line = c[at..].lines().next().unwrap_or("");
        line.contains(") {")
    })?;
    Some(&c[start..start + c[start..].find("\n}\n")?])
}

#[test]
fn a_metered_trace_looping_on_itself_adds_its_rows_on_the_way_out() {
    let program = fibonacci();
    let c = lift(
        &program,
        LiftMode::Metered,
        CStyle::TailCalls { register_args: 11 },
        16,
    );
    let looping: Vec<&str> = c
        .match_indices("RVX_BLOCK T")
        .filter_map(|(at, _)| {
            let name = c[at + 10..].split('(').next()?;
            function(&c, name)
        })
        .filter(|f| f.contains("goto rvx_loop;"))
        .collect();
    assert!(!looping.is_empty(), "fibonacci's loop trace loops in place");
    for f in &looping {
        // Every pass takes its length from the budget; its rows are added, multiplied by the
        // passes, only where the function is left.
        assert!(f.contains("const uint64_t rvx_b0 = budget;"), "{f}");
        let per_pass = f
            .lines()
            .any(|line| line.trim_start().starts_with('r') && line.ends_with("};"));
        assert!(!per_pass, "rows added on every pass:\n{f}");
        assert!(f.contains("* n_;"), "{f}");
        // Each way out settles the rows before it leaves.
        assert_eq!(
            f.matches("musttail").count(),
            f.matches("rvx_lane n_ =").count(),
            "{f}"
        );
    }
    // Pure code keeps tail calls (nothing to defer), and the one-function shape its gotos.
    let pure = lift(
        &program,
        LiftMode::Pure,
        CStyle::TailCalls { register_args: 11 },
        16,
    );
    assert!(!pure.contains("rvx_loop"));
    let gcc = lift(&program, LiftMode::Metered, CStyle::OneFunction, 16);
    assert!(!gcc.contains("rvx_loop"));
}
