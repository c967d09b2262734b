//! `#[derive(VmConfig)]`: parses the `#[config]` and `#[extension]` fields of a struct and
//! implements `::rvx::VmConfig` and `AsRef<::rvx::SystemConfig>` from them.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::{Attribute, Data, DeriveInput, Field, Fields, Ident, Meta, Type};

/// The helper attribute marking the system-configuration field.
const CONFIG: &str = "config";
/// The helper attribute marking an extension field.
const EXTENSION: &str = "extension";

/// What a field of the configuration struct is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    /// `#[config]`: the system configuration (or a base configuration).
    Config,
    /// `#[extension]`: an extension, or an `Option` of one.
    Extension,
}

impl Role {
    /// The attribute as written, for messages.
    fn attr(self) -> &'static str {
        match self {
            Role::Config => "`#[config]`",
            Role::Extension => "`#[extension]`",
        }
    }
}

/// A field with its role.
struct Marked<'a> {
    /// The field's name.
    ident: &'a Ident,
    /// The field's type.
    ty: &'a Type,
}

/// Accumulates errors so one expansion reports every mistake it finds.
#[derive(Default)]
pub(crate) struct Errors(Option<syn::Error>);

impl Errors {
    /// Records an error.
    pub(crate) fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(first) => first.combine(error),
            None => self.0 = Some(error),
        }
    }

    /// `Ok` if nothing was recorded, else all recorded errors.
    pub(crate) fn finish(self) -> syn::Result<()> {
        self.0.map_or(Ok(()), Err)
    }
}

/// Expands `#[derive(VmConfig)]` on `input`.
pub(crate) fn derive(input: &DeriveInput) -> syn::Result<TokenStream> {
    const NAMED: &str = "`#[derive(VmConfig)]` requires a struct with named fields, \
                         one `#[config]` and any number of `#[extension]` fields";
    let fields = match &input.data {
        Data::Struct(data) => match &data.fields {
            Fields::Named(fields) => fields,
            Fields::Unnamed(fields) => {
                return Err(syn::Error::new_spanned(
                    fields,
                    format!("{NAMED}; found a tuple struct"),
                ))
            }
            Fields::Unit => {
                return Err(syn::Error::new_spanned(
                    &input.ident,
                    format!("{NAMED}; found a unit struct"),
                ))
            }
        },
        Data::Enum(data) => {
            let (keyword, ident) = (data.enum_token, &input.ident);
            return Err(syn::Error::new_spanned(
                quote!(#keyword #ident),
                format!("{NAMED}; found an enum"),
            ));
        }
        Data::Union(data) => {
            let (keyword, ident) = (data.union_token, &input.ident);
            return Err(syn::Error::new_spanned(
                quote!(#keyword #ident),
                format!("{NAMED}; found a union"),
            ));
        }
    };

    let mut errors = Errors::default();
    let mut config: Option<Marked> = None;
    let mut extensions = Vec::new();
    for field in &fields.named {
        let Some((role, attr)) = field_role(field, &mut errors) else {
            continue;
        };
        let Some(ident) = &field.ident else {
            continue; // named fields have names
        };
        let marked = Marked {
            ident,
            ty: &field.ty,
        };
        match role {
            Role::Config => match &config {
                Some(first) => errors.push(syn::Error::new_spanned(
                    attr,
                    format!(
                        "a configuration has exactly one `#[config]` field, and `{}` already is it; \
                         mark the other fields `#[extension]`",
                        first.ident
                    ),
                )),
                None => config = Some(marked),
            },
            Role::Extension => extensions.push(marked),
        }
    }
    let missing = || {
        syn::Error::new_spanned(
            &input.ident,
            "`#[derive(VmConfig)]` requires one `#[config]` field: \
             a `rvx::SystemConfig` or another VM configuration",
        )
    };
    match (config, errors.finish()) {
        (Some(config), Ok(())) => Ok(expand(input, &config, &extensions)),
        (Some(_), Err(errors)) => Err(errors),
        (None, Ok(())) => Err(missing()),
        (None, Err(mut errors)) => {
            errors.combine(missing());
            Err(errors)
        }
    }
}

/// The role `field`'s attributes give it, recording misuse in `errors`. `None` (with an error)
/// for a field with neither attribute.
fn field_role<'a>(field: &'a Field, errors: &mut Errors) -> Option<(Role, &'a Attribute)> {
    let mut found: Option<(Role, &Attribute)> = None;
    for attr in &field.attrs {
        let role = if attr.path().is_ident(CONFIG) {
            Role::Config
        } else if attr.path().is_ident(EXTENSION) {
            Role::Extension
        } else {
            continue;
        };
        match &attr.meta {
            Meta::Path(_) => {}
            Meta::List(list) => {
                let message = format!("{} takes no arguments", role.attr());
                errors.push(if list.tokens.is_empty() {
                    syn::Error::new(list.delimiter.span().join(), message)
                } else {
                    syn::Error::new_spanned(&list.tokens, message)
                });
            }
            Meta::NameValue(name_value) => {
                let (eq, value) = (name_value.eq_token, &name_value.value);
                errors.push(syn::Error::new_spanned(
                    quote!(#eq #value),
                    format!("{} takes no value", role.attr()),
                ));
            }
        }
        match found {
            None => found = Some((role, attr)),
            Some((first, _)) if first == role => errors.push(syn::Error::new_spanned(
                attr,
                format!("duplicate {} attribute", role.attr()),
            )),
            Some(_) => errors.push(syn::Error::new_spanned(
                attr,
                "a field cannot be both `#[config]` and `#[extension]`",
            )),
        }
    }
    if found.is_none() {
        let (vis, ident, colon, ty) = (&field.vis, &field.ident, &field.colon_token, &field.ty);
        errors.push(syn::Error::new_spanned(
            quote!(#vis #ident #colon #ty),
            "every field of a `#[derive(VmConfig)]` struct must be `#[config]` \
             (the system configuration) or `#[extension]`",
        ));
    }
    found
}

/// A span located at `tokens` (so errors point there) that resolves names like the derive's
/// own tokens.
pub(crate) fn located_at(tokens: impl ToTokens) -> Span {
    Span::call_site().located_at(tokens.into_token_stream().span())
}

/// The impls for a struct whose fields parsed correctly.
fn expand(input: &DeriveInput, config: &Marked, extensions: &[Marked]) -> TokenStream {
    let name = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();

    // Each use of a field names the field's type and is spanned at it, so a type lacking the
    // trait (not a configuration, not an extension) is reported there, with the trait's own
    // message.
    let config_ident = config.ident;
    let config_ty = config.ty;
    let config_span = located_at(config_ty);
    let system = quote_spanned! {config_span=>
        <#config_ty as ::rvx::VmConfig>::system(&self.#config_ident)
    };
    let base_extensions = quote_spanned! {config_span=>
        <#config_ty as ::rvx::VmConfig>::extensions(&self.#config_ident)
    };
    let collect = extensions.iter().map(|extension| {
        let (ident, ty) = (extension.ident, extension.ty);
        let span = located_at(ty);
        quote_spanned! {span=>
            <#ty as ::rvx::extension::ExtensionField>::collect_into(&self.#ident, &mut out);
        }
    });

    quote! {
        #[automatically_derived]
        impl #impl_generics ::rvx::VmConfig for #name #ty_generics #where_clause {
            fn system(&self) -> &::rvx::SystemConfig {
                #system
            }

            fn extensions(
                &self,
            ) -> ::std::vec::Vec<::std::sync::Arc<dyn ::rvx::extension::Extension>> {
                let mut out = #base_extensions;
                #(#collect)*
                out
            }
        }

        #[automatically_derived]
        impl #impl_generics ::core::convert::AsRef<::rvx::SystemConfig>
            for #name #ty_generics #where_clause
        {
            fn as_ref(&self) -> &::rvx::SystemConfig {
                ::rvx::VmConfig::system(self)
            }
        }
    }
}
