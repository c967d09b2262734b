use rvx::extension::{io::Io, rv32m::Rv32M, Extension};
use rvx::{SystemConfig, VmConfig};

#[derive(VmConfig)]
struct WithExtension<C, E: Extension + Clone>
where
    C: VmConfig,
{
    #[config]
    base: C,
    #[extension]
    extra: E,
    #[extension]
    optional: Option<E>,
}

fn main() {
    let config = WithExtension {
        base: SystemConfig::default(),
        extra: Rv32M::default(),
        optional: None,
    };
    assert_eq!(config.extensions().len(), 1);
    let nested = WithExtension {
        base: config,
        extra: Io::default(),
        optional: Some(Io::default()),
    };
    let _: &SystemConfig = nested.as_ref();
    assert_eq!(nested.extensions().len(), 3);
}
