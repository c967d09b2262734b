//! `instances! { backends { .. } modes { .. } }`: the table of backends x modes. Parses the
//! table and checks it as a whole; [`expand`] turns it into `BackendKind`, the state bridge
//! `Bridge` and one instance type per mode (the syntax and an expansion are documented on the
//! macro, in `lib.rs`).

mod expand;

pub(crate) use expand::expand;

use crate::config::Errors;
use proc_macro2::Span;
use std::collections::HashSet;
use syn::parse::{Parse, ParseStream};
use syn::{braced, Attribute, Expr, Ident, LitStr, Meta, Token, Type};

/// The keys of a backend row, for messages.
const BACKEND_KEYS: &str = "`name` and `backend`";
/// The keys of a mode row, for messages.
const MODE_KEYS: &str = "`prepare`, `driver`, `returns`, `execute`, `with_limit` and `from_state`";
/// The methods every instance has; a mode's own methods must have other names.
const COMMON_METHODS: [&str; 6] = [
    "new",
    "compile_report",
    "with_output",
    "program",
    "backend",
    "initial_state",
];

/// The whole table.
pub(crate) struct Table {
    /// The `backends` keyword, where an empty section is reported.
    backends_kw: Ident,
    /// The backends, in table order (the order of `BackendKind::ALL`).
    backends: Vec<BackendRow>,
    /// The `modes` keyword, where an empty section is reported.
    modes_kw: Ident,
    /// The modes: one instance type each.
    modes: Vec<ModeRow>,
}

/// `/// docs  #[default]?  Variant { name: "cli-name", backend: Type }`.
struct BackendRow {
    /// The doc comment: the `BackendKind` variant's, and the source of its summary.
    docs: Vec<Attribute>,
    /// `#[default]`: the backend `BackendKind::default()` returns.
    default: Option<Attribute>,
    /// The `BackendKind` (and `Bridge`) variant.
    variant: Ident,
    /// The short name on the command line and in reports.
    name: LitStr,
    /// The type implementing `crate::backend::Backend`.
    backend: Type,
}

/// `/// docs  Instance { prepare: .., driver: .., returns: .., execute: .., with_limit: ..,
/// from_state: .. }`.
struct ModeRow {
    /// The instance type's doc comment.
    docs: Vec<Attribute>,
    /// The instance type.
    instance: Ident,
    /// The `crate::backend::LiftMode` the backend prepares the program for.
    prepare: Expr,
    /// The type implementing `crate::instance::Driver`: what the mode does around runs.
    driver: Type,
    /// What the `execute*` methods return (the driver's `Returns`).
    returns: Type,
    /// Runs from the inputs until the end.
    execute: Method,
    /// Runs from the inputs for at most a number of instructions.
    with_limit: Method,
    /// Continues a suspended state.
    from_state: Method,
}

/// A method of a mode, named and documented in the table.
struct Method {
    /// Its doc comment.
    docs: Vec<Attribute>,
    /// Its name.
    name: Ident,
}

impl Parse for Table {
    fn parse(input: ParseStream) -> syn::Result<Table> {
        let backends_kw = section(input, "backends")?;
        let content;
        braced!(content in input);
        let backends = rows(&content, backend_row)?;
        let modes_kw = section(input, "modes")?;
        let content;
        braced!(content in input);
        let modes = rows(&content, mode_row)?;
        if !input.is_empty() {
            return Err(input.error("unexpected tokens after the `modes { .. }` section"));
        }
        Ok(Table {
            backends_kw,
            backends,
            modes_kw,
            modes,
        })
    }
}

/// Parses the keyword that opens the section `name`.
fn section(input: ParseStream, name: &str) -> syn::Result<Ident> {
    let expected = format!("expected `{name} {{ .. }}`");
    let keyword: Ident = input
        .parse()
        .map_err(|e| syn::Error::new(e.span(), &expected))?;
    if keyword != name {
        return Err(syn::Error::new(
            keyword.span(),
            format!("{expected}, found `{keyword}`"),
        ));
    }
    Ok(keyword)
}

/// Parses the comma-separated rows of a section: attributes, a name, a braced body that `row`
/// parses.
fn rows<T>(
    input: ParseStream,
    row: fn(Vec<Attribute>, Ident, ParseStream) -> syn::Result<T>,
) -> syn::Result<Vec<T>> {
    let mut out = Vec::new();
    while !input.is_empty() {
        let attrs = input.call(Attribute::parse_outer)?;
        let name: Ident = input.parse()?;
        let body;
        braced!(body in input);
        out.push(row(attrs, name, &body)?);
        if input.is_empty() {
            break;
        }
        input.parse::<Token![,]>()?;
    }
    Ok(out)
}

/// Parses the comma-separated `key: value` entries of a row body, handing each key (with the
/// attributes written before it) to `entry`, which parses the value.
fn entries(
    input: ParseStream,
    mut entry: impl FnMut(Vec<Attribute>, Ident, ParseStream) -> syn::Result<()>,
) -> syn::Result<()> {
    while !input.is_empty() {
        let attrs = input.call(Attribute::parse_outer)?;
        let key: Ident = input.parse()?;
        input.parse::<Token![:]>()?;
        entry(attrs, key, input)?;
        if input.is_empty() {
            break;
        }
        input.parse::<Token![,]>()?;
    }
    Ok(())
}

/// A value of a row, given exactly once.
struct Slot<T>(Option<T>);

impl<T> Slot<T> {
    /// An empty slot.
    fn new() -> Self {
        Slot(None)
    }

    /// Fills the slot from the entry `key`.
    fn set(&mut self, key: &Ident, value: T) -> syn::Result<()> {
        if self.0.is_some() {
            return Err(syn::Error::new(
                key.span(),
                format!("`{key}` is given twice"),
            ));
        }
        self.0 = Some(value);
        Ok(())
    }

    /// The value, or an error at `row` showing the missing entry `key: shape`.
    fn take(self, row: &Ident, key: &str, shape: &str) -> syn::Result<T> {
        self.0
            .ok_or_else(|| syn::Error::new(row.span(), format!("`{row}` lacks `{key}: {shape}`")))
    }
}

/// Splits attributes into doc comments and the rest.
fn split_docs(attrs: Vec<Attribute>) -> (Vec<Attribute>, Vec<Attribute>) {
    attrs
        .into_iter()
        .partition(|attr| attr.path().is_ident("doc"))
}

/// An error at the first of `attrs`, if any: `what` takes none.
fn refuse(attrs: &[Attribute], what: &str) -> syn::Result<()> {
    let Some(attr) = attrs.first() else {
        return Ok(());
    };
    let kind = if attr.path().is_ident("doc") {
        "doc comment (only the rows and the methods are documented)"
    } else {
        "attributes"
    };
    Err(syn::Error::new_spanned(
        attr,
        format!("{what} takes no {kind}"),
    ))
}

/// An error at `at` unless `docs` has a doc comment for `what`, which becomes public.
fn require_docs(docs: &[Attribute], at: &Ident, what: &str) -> syn::Result<()> {
    if docs.is_empty() {
        return Err(syn::Error::new(
            at.span(),
            format!("document {what} with a `///` comment: it becomes public"),
        ));
    }
    Ok(())
}

/// Parses a backend row whose attributes and name were read.
fn backend_row(
    attrs: Vec<Attribute>,
    variant: Ident,
    body: ParseStream,
) -> syn::Result<BackendRow> {
    let (docs, rest) = split_docs(attrs);
    let mut default = None;
    for attr in rest {
        if !attr.path().is_ident("default") {
            return Err(syn::Error::new_spanned(
                attr,
                "a backend row takes doc comments and `#[default]` only",
            ));
        }
        if !matches!(attr.meta, Meta::Path(_)) {
            return Err(syn::Error::new_spanned(
                attr,
                "`#[default]` takes no arguments",
            ));
        }
        if default.is_some() {
            return Err(syn::Error::new_spanned(attr, "duplicate `#[default]`"));
        }
        default = Some(attr);
    }
    require_docs(&docs, &variant, &format!("the backend `{variant}`"))?;
    let (mut name, mut backend) = (Slot::new(), Slot::new());
    entries(body, |attrs, key, input| {
        refuse(&attrs, &format!("`{key}`"))?;
        match key.to_string().as_str() {
            "name" => name.set(&key, input.parse::<LitStr>()?),
            "backend" => backend.set(&key, input.parse::<Type>()?),
            _ => Err(syn::Error::new(
                key.span(),
                format!("unknown key `{key}` in a backend row; expected {BACKEND_KEYS}"),
            )),
        }
    })?;
    Ok(BackendRow {
        docs,
        default,
        name: name.take(&variant, "name", "\"cli-name\"")?,
        backend: backend.take(&variant, "backend", "<a type implementing Backend>")?,
        variant,
    })
}

/// Parses a mode row whose attributes and name were read.
fn mode_row(attrs: Vec<Attribute>, instance: Ident, body: ParseStream) -> syn::Result<ModeRow> {
    let (docs, rest) = split_docs(attrs);
    refuse(&rest, "a mode row")?;
    require_docs(&docs, &instance, &format!("the instance type `{instance}`"))?;
    let (mut prepare, mut driver, mut returns) = (Slot::new(), Slot::new(), Slot::new());
    let (mut execute, mut with_limit, mut from_state) = (Slot::new(), Slot::new(), Slot::new());
    entries(body, |attrs, key, input| {
        let (docs, rest) = split_docs(attrs);
        refuse(&rest, &format!("`{key}`"))?;
        let method = match key.to_string().as_str() {
            "execute" => &mut execute,
            "with_limit" => &mut with_limit,
            "from_state" => &mut from_state,
            other => {
                refuse(&docs, &format!("`{key}`"))?;
                return match other {
                    "prepare" => prepare.set(&key, input.parse::<Expr>()?),
                    "driver" => driver.set(&key, input.parse::<Type>()?),
                    "returns" => returns.set(&key, input.parse::<Type>()?),
                    _ => Err(syn::Error::new(
                        key.span(),
                        format!("unknown key `{key}` in a mode row; expected {MODE_KEYS}"),
                    )),
                };
            }
        };
        let name: Ident = input.parse()?;
        require_docs(&docs, &name, &format!("the method `{name}`"))?;
        method.set(&key, Method { docs, name })
    })?;
    let method = "<method name>";
    Ok(ModeRow {
        docs,
        prepare: prepare.take(&instance, "prepare", "<a LiftMode>")?,
        driver: driver.take(&instance, "driver", "<a type implementing Driver>")?,
        returns: returns.take(&instance, "returns", "<the driver's Returns type>")?,
        execute: execute.take(&instance, "execute", method)?,
        with_limit: with_limit.take(&instance, "with_limit", method)?,
        from_state: from_state.take(&instance, "from_state", method)?,
        instance,
    })
}

impl Table {
    /// Checks what no single row shows: each section has rows, names are unique, at most one
    /// default backend, command-line names are well formed, methods do not collide.
    fn check(&self) -> syn::Result<()> {
        let mut errors = Errors::default();
        for (empty, keyword, what) in [
            (self.backends.is_empty(), &self.backends_kw, "backend"),
            (self.modes.is_empty(), &self.modes_kw, "mode"),
        ] {
            if empty {
                errors.push(syn::Error::new(
                    keyword.span(),
                    format!("the table needs at least one {what}"),
                ));
            }
        }
        let mut variants = Unique::new("backend");
        let mut names = Unique::new("backend name");
        let mut default: Option<&Ident> = None;
        for row in &self.backends {
            variants.check(&mut errors, row.variant.to_string(), row.variant.span());
            let name = row.name.value();
            let well_formed = name.starts_with(|c: char| c.is_ascii_lowercase())
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
            if !well_formed {
                errors.push(syn::Error::new(
                    row.name.span(),
                    "a backend name is a lowercase letter followed by lowercase letters, \
                     digits and `-`",
                ));
            }
            names.check(&mut errors, name, row.name.span());
            match (&row.default, default) {
                (Some(attr), Some(first)) => errors.push(syn::Error::new_spanned(
                    attr,
                    format!("only one backend is the default, and `{first}` already is"),
                )),
                (Some(_), None) => default = Some(&row.variant),
                (None, _) => {}
            }
        }
        let mut instances = Unique::new("instance type");
        for row in &self.modes {
            instances.check(&mut errors, row.instance.to_string(), row.instance.span());
            let mut methods = Unique::new("method");
            for method in [&row.execute, &row.with_limit, &row.from_state] {
                let name = method.name.to_string();
                if COMMON_METHODS.contains(&name.as_str()) {
                    errors.push(syn::Error::new(
                        method.name.span(),
                        format!("every instance already has a method `{name}`"),
                    ));
                }
                methods.check(&mut errors, name, method.name.span());
            }
        }
        errors.finish()
    }
}

/// Names seen so far in one namespace.
struct Unique {
    /// What the names name, for messages.
    what: &'static str,
    /// The names seen.
    seen: HashSet<String>,
}

impl Unique {
    /// An empty namespace of `what`.
    fn new(what: &'static str) -> Unique {
        Unique {
            what,
            seen: HashSet::new(),
        }
    }

    /// Records `name`, or an error at `span` if it was seen before.
    fn check(&mut self, errors: &mut Errors, name: String, span: Span) {
        let message = format!("duplicate {} `{name}`", self.what);
        if !self.seen.insert(name) {
            errors.push(syn::Error::new(span, message));
        }
    }
}

#[cfg(test)]
mod tests;
