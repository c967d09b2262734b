//! The expansion of a checked table: `BackendKind`, the state bridge `Bridge`, and one
//! instance type per mode.

use super::{BackendRow, ModeRow, Table};
use crate::config::located_at;
use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::{Attribute, Expr, ExprLit, Ident, Lit, Meta};

/// Expands a parsed table, after checking it.
pub(crate) fn expand(table: &Table) -> syn::Result<TokenStream> {
    table.check()?;
    let kind = backend_kind(&table.backends);
    let bridge = bridge(&table.backends);
    let instances = table.modes.iter().map(instance);
    Ok(quote! {
        #kind
        #bridge
        #(#instances)*
    })
}

/// The first paragraph of a doc comment, on one line.
fn summary(docs: &[Attribute]) -> String {
    let text: Vec<String> = docs
        .iter()
        .filter_map(|attr| match &attr.meta {
            Meta::NameValue(doc) => match &doc.value {
                Expr::Lit(ExprLit {
                    lit: Lit::Str(text),
                    ..
                }) => Some(text.value()),
                _ => None,
            },
            _ => None,
        })
        .collect();
    let mut words: Vec<&str> = Vec::new();
    // `split`, not `lines`: an empty `///` line is an empty doc string, and ends the paragraph.
    for line in text.iter().flat_map(|doc| doc.split('\n')).map(str::trim) {
        match (line.is_empty(), words.is_empty()) {
            (true, true) => {}
            (true, false) => break,
            (false, _) => words.push(line),
        }
    }
    words.join(" ")
}

/// `BackendKind`: one variant per backend row, `ALL`, `name`, `summary`, `Display` and serde.
fn backend_kind(backends: &[BackendRow]) -> TokenStream {
    let variants: Vec<&Ident> = backends.iter().map(|row| &row.variant).collect();
    let names = backends.iter().map(|row| &row.name);
    let summaries = backends.iter().map(|row| summary(&row.docs));
    let declarations = backends.iter().map(|row| {
        let (docs, default, variant) = (&row.docs, &row.default, &row.variant);
        quote!(#(#docs)* #default #variant)
    });
    let derive_default = backends
        .iter()
        .any(|row| row.default.is_some())
        .then(|| quote!(::std::default::Default,));
    quote! {
        /// The available backends: one per row of the instance table, in its order.
        #[derive(
            ::std::fmt::Debug,
            ::std::clone::Clone,
            ::std::marker::Copy,
            ::std::cmp::PartialEq,
            ::std::cmp::Eq,
            ::std::hash::Hash,
            #derive_default
            ::serde::Serialize,
            ::serde::Deserialize,
        )]
        #[serde(rename_all = "lowercase")]
        pub enum BackendKind {
            #(#declarations,)*
        }

        impl BackendKind {
            /// Every backend, in a stable order.
            pub const ALL: &'static [BackendKind] = &[#(BackendKind::#variants),*];

            /// The short name used on the command line and in reports.
            pub fn name(self) -> &'static ::std::primitive::str {
                match self {
                    #(BackendKind::#variants => #names,)*
                }
            }

            /// A one-line description (the first paragraph of the variant's documentation),
            /// for help texts.
            pub fn summary(self) -> &'static ::std::primitive::str {
                match self {
                    #(BackendKind::#variants => #summaries,)*
                }
            }
        }

        impl ::std::fmt::Display for BackendKind {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.name())
            }
        }
    }
}

/// `Bridge`: each backend with what it prepared, and the one dispatch on the backend.
fn bridge(backends: &[BackendRow]) -> TokenStream {
    let variants: Vec<&Ident> = backends.iter().map(|row| &row.variant).collect();
    // Spanned at the row's type, so a type that is not a backend is reported there.
    let backend: Vec<TokenStream> = backends
        .iter()
        .map(|row| {
            let ty = &row.backend;
            quote_spanned!(located_at(ty)=> <#ty as crate::backend::Backend>)
        })
        .collect();
    let prepared = backends.iter().map(|row| {
        let ty = &row.backend;
        quote_spanned!(located_at(ty)=> <#ty as crate::backend::Backend>::Prepared)
    });
    let docs = variants
        .iter()
        .map(|variant| format!(" What the backend `{variant}` prepared."));
    quote! {
        /// The state bridge: an instance's backend with what it prepared for the instance's
        /// mode. The one place that dispatches on the backend.
        #[derive(::std::fmt::Debug, ::std::clone::Clone)]
        enum Bridge {
            #(#[doc = #docs] #variants(#prepared),)*
        }

        impl Bridge {
            /// Prepares `program` for `mode` on the backend `kind`.
            fn prepare(
                kind: BackendKind,
                program: &crate::program::Program,
                mode: crate::backend::LiftMode,
            ) -> ::std::result::Result<Bridge, crate::error::CompileError> {
                ::std::result::Result::Ok(match kind {
                    #(BackendKind::#variants => Bridge::#variants(#backend::prepare(program, mode)?),)*
                })
            }

            /// The backend.
            fn kind(&self) -> BackendKind {
                match self {
                    #(Bridge::#variants(_) => BackendKind::#variants,)*
                }
            }

            /// Runs `state` on the backend until it terminates, faults, reaches instret `end`,
            /// or the mode's meter stops it.
            fn run(
                &self,
                program: &crate::program::Program,
                state: &mut crate::state::VmState,
                end: ::std::primitive::u64,
                mode: crate::backend::ModeRef<'_>,
                out: &mut dyn ::std::io::Write,
            ) -> ::std::result::Result<(), crate::error::ExecError> {
                match self {
                    #(Bridge::#variants(prepared) => #backend::run(prepared, program, state, end, mode, out),)*
                }
            }

            /// Whether the backend's code came from a cache, and how long compiling took.
            fn compile_report(&self) -> crate::backend::CompileReport {
                match self {
                    #(Bridge::#variants(prepared) => #backend::compile_report(prepared),)*
                }
            }
        }
    }
}

/// A mode's instance type: the common methods and the mode's three `execute*` methods.
fn instance(row: &ModeRow) -> TokenStream {
    let ModeRow {
        docs,
        instance,
        prepare,
        driver,
        returns,
        execute,
        with_limit,
        from_state,
    } = row;
    // Spanned at the row's driver, so a type that is not a driver, or a driver that does not
    // return `returns`, is reported there.
    let span = located_at(driver);
    let settings = quote_spanned!(span=> <#driver as crate::instance::Driver>::Settings);
    let drive = quote_spanned! {span=>
        <#driver as crate::instance::Driver>::drive(&self.core, &self.settings, state, end)
    };
    // The table's `prepare` expression cannot see these parameters.
    let program = Ident::new("program", Span::mixed_site());
    let backend = Ident::new("backend", Span::mixed_site());
    let (execute_docs, execute) = (&execute.docs, &execute.name);
    let (with_limit_docs, with_limit) = (&with_limit.docs, &with_limit.name);
    let (from_state_docs, from_state) = (&from_state.docs, &from_state.name);
    let inputs =
        quote!(impl ::std::iter::IntoIterator<Item = ::std::vec::Vec<::std::primitive::u8>>);
    let result = quote!(::std::result::Result<#returns, crate::error::Error>);
    quote! {
        #(#docs)*
        #[derive(::std::fmt::Debug, ::std::clone::Clone)]
        pub struct #instance {
            /// The program, its backend (through the bridge) and where output goes.
            core: crate::instance::Core,
            /// The mode's own options.
            settings: #settings,
        }

        impl #instance {
            /// An instance of `program` (with the configuration it was loaded for) on `backend`.
            /// A compiling backend compiles the program here (or takes it from its cache), once
            /// for every later run.
            pub fn new(
                #program: ::std::sync::Arc<crate::program::Program>,
                #backend: BackendKind,
            ) -> ::std::result::Result<Self, crate::error::Error> {
                ::std::result::Result::Ok(#instance {
                    core: crate::instance::Core::new(#program, #backend, #prepare)?,
                    settings: ::std::default::Default::default(),
                })
            }

            /// Whether the backend's code came from the cache, and how long compiling took.
            pub fn compile_report(&self) -> crate::backend::CompileReport {
                self.core.compile_report()
            }

            /// Sends the guest's printed output to `output` instead of standard output.
            pub fn with_output(mut self, output: crate::instance::Output) -> Self {
                self.core.set_output(output);
                self
            }

            /// The program this instance runs.
            pub fn program(&self) -> &::std::sync::Arc<crate::program::Program> {
                self.core.program()
            }

            /// The backend.
            pub fn backend(&self) -> BackendKind {
                self.core.backend()
            }

            /// The initial state for the given input records.
            pub fn initial_state(
                &self,
                inputs: #inputs,
            ) -> ::std::result::Result<crate::state::VmState, crate::error::Error> {
                self.core.initial_state(inputs)
            }

            #(#execute_docs)*
            pub fn #execute(&self, inputs: #inputs) -> #result {
                self.#from_state(self.initial_state(inputs)?, ::std::option::Option::None)
            }

            #(#with_limit_docs)*
            pub fn #with_limit(
                &self,
                inputs: #inputs,
                limit: ::std::primitive::u64,
            ) -> #result {
                self.#from_state(self.initial_state(inputs)?, ::std::option::Option::Some(limit))
            }

            #(#from_state_docs)*
            pub fn #from_state(
                &self,
                state: crate::state::VmState,
                limit: ::std::option::Option<::std::primitive::u64>,
            ) -> #result {
                let end = self.core.end_of(&state, limit)?;
                #drive
            }
        }
    }
}
