//! The table's parser and checks: a well-formed table expands; each kind of mistake is an
//! error naming it.

use super::{expand, Table};

/// A well-formed table with two backends and two modes.
const TABLE: &str = r#"
    backends {
        /// The interpreter.
        ///
        /// More about it.
        #[default]
        Interpreter { name: "interp", backend: InterpBackend },
        /// The recompiler.
        Rvr { name: "rvr", backend: RvrBackend },
    }
    modes {
        /// Pure.
        PureInstance {
            prepare: LiftMode::Pure,
            driver: PureDriver,
            returns: VmState,
            /// Runs.
            execute: execute,
            /// Runs with a limit.
            with_limit: execute_with_limit,
            /// Continues.
            from_state: execute_from_state,
        },
        /// Metered.
        MeteredInstance {
            /// Continues.
            from_state: execute_metered_from_state,
            driver: MeteredDriver,
            returns: (Vec<Segment>, VmState),
            prepare: LiftMode::Metered,
            /// Runs.
            execute: execute_metered,
            /// Runs with a limit.
            with_limit: execute_metered_with_limit
        }
    }
"#;

/// Expands `source`.
fn expansion(source: &str) -> syn::Result<String> {
    let table: Table = syn::parse_str(source)?;
    Ok(expand(&table)?.to_string())
}

/// The messages of the errors expanding `source` gives.
fn errors(source: &str) -> Vec<String> {
    match expansion(source) {
        Ok(_) => Vec::new(),
        Err(error) => error.into_iter().map(|e| e.to_string()).collect(),
    }
}

/// Asserts that the table with `from` (which must occur) replaced by `to` gives exactly one
/// error, containing `message`.
#[track_caller]
fn assert_error(from: &str, to: &str, message: &str) {
    assert!(TABLE.contains(from), "{from:?} is not in the table");
    let found = errors(&TABLE.replacen(from, to, 1));
    assert!(
        found.len() == 1 && found[0].contains(message),
        "expected one error containing {message:?}, found {found:?}"
    );
}

#[test]
fn a_well_formed_table_expands() {
    let out = expansion(TABLE).unwrap();
    for item in [
        "pub enum BackendKind",
        "# [default] Interpreter",
        "pub const ALL",
        "enum Bridge",
        "Interpreter (< InterpBackend as crate :: backend :: Backend > :: Prepared)",
        "pub struct PureInstance",
        "pub struct MeteredInstance",
        "pub fn execute_metered_with_limit",
        "crate :: instance :: Core :: new (program , backend , LiftMode :: Metered) ?",
        "< MeteredDriver as crate :: instance :: Driver > :: drive",
        "-> :: std :: result :: Result < (Vec < Segment > , VmState) , crate :: error :: Error >",
        // The summary is the first paragraph of the row's documentation.
        r#"BackendKind :: Interpreter => "The interpreter.""#,
    ] {
        assert!(out.contains(item), "no {item:?} in {out}");
    }
}

#[test]
fn no_default_backend_derives_no_default() {
    let out = expansion(&TABLE.replacen("#[default]", "", 1)).unwrap();
    assert!(!out.contains("Default ,"), "{out}");
}

#[test]
fn sections_are_named_and_ordered() {
    assert_error(
        "backends {",
        "backend {",
        "expected `backends { .. }`, found `backend`",
    );
    assert_error("modes {", "mode {", "expected `modes { .. }`, found `mode`");
    assert!(errors(&format!("{TABLE} extra"))[0].contains("unexpected tokens after"));
    assert!(errors("")[0].contains("expected `backends { .. }`"));
}

#[test]
fn sections_have_rows() {
    assert_eq!(
        errors("backends {} modes {}"),
        [
            "the table needs at least one backend",
            "the table needs at least one mode"
        ]
    );
}

#[test]
fn rows_have_every_key_once() {
    assert_error(r#"name: "rvr", "#, "", "`Rvr` lacks `name: \"cli-name\"`");
    assert_error(
        "driver: PureDriver,",
        "",
        "`PureInstance` lacks `driver: <a type implementing Driver>`",
    );
    assert_error(
        "/// Runs with a limit.\n            with_limit: execute_with_limit,",
        "",
        "`PureInstance` lacks `with_limit: <method name>`",
    );
    assert_error(
        "driver: PureDriver,",
        "driver: PureDriver, driver: PureDriver,",
        "`driver` is given twice",
    );
    assert_error(
        "backend: RvrBackend",
        "backend: RvrBackend, speed: 3",
        "unknown key `speed` in a backend row",
    );
    assert_error(
        "driver: PureDriver,",
        "drive: PureDriver,",
        "unknown key `drive` in a mode row",
    );
}

#[test]
fn rows_and_methods_are_documented() {
    assert_error("/// The recompiler.", "", "document the backend `Rvr`");
    assert_error("/// Pure.", "", "document the instance type `PureInstance`");
    assert_error("/// Runs.\n", "", "document the method `execute`");
    assert_error(
        "driver: PureDriver,",
        "/// A driver.\n driver: PureDriver,",
        "`driver` takes no doc comment",
    );
}

#[test]
fn attributes_are_refused_where_they_mean_nothing() {
    assert_error(
        "/// Pure.",
        "/// Pure.\n #[derive(Copy)]",
        "a mode row takes no attributes",
    );
    assert_error(
        "#[default]",
        "#[default] #[inline]",
        "a backend row takes doc comments and `#[default]` only",
    );
    assert_error(
        "#[default]",
        "#[default(x)]",
        "`#[default]` takes no arguments",
    );
    assert_error(
        "/// The recompiler.",
        "/// The recompiler.\n #[default]",
        "only one backend is the default, and `Interpreter` already is",
    );
}

#[test]
fn names_are_unique_and_well_formed() {
    assert_error("Rvr {", "Interpreter {", "duplicate backend `Interpreter`");
    assert_error(r#""rvr""#, r#""interp""#, "duplicate backend name `interp`");
    assert_error(
        r#""rvr""#,
        r#""Rvr""#,
        "a backend name is a lowercase letter",
    );
    assert_error(r#""rvr""#, r#""""#, "a backend name is a lowercase letter");
    assert_error(
        "MeteredInstance {",
        "PureInstance {",
        "duplicate instance type `PureInstance`",
    );
    assert_error(
        "with_limit: execute_with_limit",
        "with_limit: execute",
        "duplicate method `execute`",
    );
    assert_error(
        "execute: execute,",
        "execute: program,",
        "every instance already has a method `program`",
    );
}

#[test]
fn independent_mistakes_are_all_reported() {
    let source = TABLE.replacen(r#""rvr""#, r#""interp""#, 1).replacen(
        "MeteredInstance {",
        "PureInstance {",
        1,
    );
    assert_eq!(errors(&source).len(), 2);
}
