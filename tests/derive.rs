//! `#[derive(VmConfig)]` at run time: extension order, inheritance, optional extensions and
//! `AsRef<SystemConfig>`.

use rvx::config::Rv32ImConfig;
use rvx::extension::{io::Io, rv32i::Rv32I, rv32m::Rv32M, Extension};
use rvx::{SystemConfig, VmConfig};

/// The three standard extensions, declared out of their usual order.
#[derive(VmConfig, Clone, Default)]
struct Reordered {
    #[extension]
    rv32m: Rv32M,
    #[config]
    system: SystemConfig,
    #[extension]
    io: Io,
    #[extension]
    rv32i: Rv32I,
}

/// The standard configuration plus optional extras.
#[derive(VmConfig, Clone, Default)]
struct Inherited {
    #[extension]
    first: Option<Io>,
    #[config]
    base: Rv32ImConfig,
    #[extension]
    second: Option<Rv32M>,
}

/// A configuration generic over its base and one extension.
#[derive(VmConfig, Clone)]
struct Generic<C: VmConfig, E: Extension + Clone> {
    #[config]
    base: C,
    #[extension]
    extra: E,
}

fn names(config: &impl VmConfig) -> Vec<&'static str> {
    config
        .extensions()
        .iter()
        .map(|extension| extension.name())
        .collect()
}

/// A default-constructed extension.
fn ext<E: Extension + Default>() -> E {
    E::default()
}

fn rv32i() -> &'static str {
    ext::<Rv32I>().name()
}

fn io() -> &'static str {
    ext::<Io>().name()
}

fn rv32m() -> &'static str {
    ext::<Rv32M>().name()
}

#[test]
fn extensions_follow_declaration_order() {
    assert_eq!(names(&Reordered::default()), [rv32m(), io(), rv32i()]);
    assert_eq!(names(&Rv32ImConfig::default()), [rv32i(), io(), rv32m()]);
}

#[test]
fn system_config_has_no_extensions() {
    assert!(names(&SystemConfig::default()).is_empty());
}

#[test]
fn inherited_extensions_come_first_and_none_is_absent() {
    let mut config = Inherited::default();
    assert_eq!(names(&config), [rv32i(), io(), rv32m()]);

    config.second = Some(ext::<Rv32M>());
    assert_eq!(names(&config), [rv32i(), io(), rv32m(), rv32m()]);

    config.first = Some(ext::<Io>());
    assert_eq!(names(&config), [rv32i(), io(), rv32m(), io(), rv32m()]);
}

#[test]
fn generic_configs_nest() {
    let inner = Generic {
        base: Rv32ImConfig::default(),
        extra: ext::<Io>(),
    };
    let outer = Generic {
        base: inner,
        extra: ext::<Rv32I>(),
    };
    assert_eq!(names(&outer), [rv32i(), io(), rv32m(), io(), rv32i()]);
}

#[test]
fn system_is_the_config_fields() {
    let system = SystemConfig {
        num_public_values: 64,
        ..SystemConfig::default()
    };
    let config = Inherited {
        base: Rv32ImConfig::with_system(system.clone()),
        ..Inherited::default()
    };

    let from_trait: &SystemConfig = VmConfig::system(&config);
    let from_as_ref: &SystemConfig = config.as_ref();
    assert!(std::ptr::eq(from_trait, &config.base.system));
    assert!(std::ptr::eq(from_as_ref, &config.base.system));
    assert_eq!(from_as_ref, &system);

    let reordered = Reordered::default();
    assert!(std::ptr::eq(reordered.as_ref(), &reordered.system));
}
